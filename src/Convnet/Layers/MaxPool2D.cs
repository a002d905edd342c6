using System.Globalization;
using Convnet.Kernels;
using Convnet.Tensors;

namespace Convnet.Layers;

/// <summary>Max pooling with "valid" windows (Keras's default); remembers each window's argmax for backward.</summary>
public sealed class MaxPool2D : Layer
{
    private readonly Action<int> _forwardChunk;
    private readonly Action<int> _backwardChunk;
    private ConvGeometry _g;
    private Tensor? _x, _y, _dx, _dy;
    private int[] _argmax = [];

    /// <param name="poolSize">Window size.</param>
    /// <param name="stride">Step between windows; defaults to <paramref name="poolSize"/>.</param>
    public MaxPool2D(int poolSize = 2, int? stride = null)
    {
        if (poolSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(poolSize), poolSize, "poolSize must be at least 1.");
        }
        if (stride is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(stride), stride, "stride must be at least 1.");
        }
        PoolSize = poolSize;
        Stride = stride ?? poolSize;
        _forwardChunk = ForwardChunk;
        _backwardChunk = BackwardChunk;
    }

    /// <summary>
    /// Set by <see cref="Models.Sequential"/> when this layer follows a ReLU: Backward then also
    /// applies that ReLU's mask, and the ReLU passes the gradient through untouched.
    /// </summary>
    internal bool RectifyGradient { get; set; }

    public int PoolSize { get; }
    public int Stride { get; }
    public override string TypeName => "MaxPooling2D";
    public override string DefaultName => "max_pooling2d";

    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>
    {
        ["pool_size"] = PoolSize.ToString(CultureInfo.InvariantCulture),
        ["stride"] = Stride.ToString(CultureInfo.InvariantCulture),
    };

    public override Shape ComputeOutputShape(Shape input)
    {
        if (!input.IsImage)
        {
            throw new ArgumentException($"MaxPool2D needs an image input (H, W, C), got {input}.");
        }
        var g = ConvGeometry.Create(input.Height, input.Width, input.Channels, PoolSize, Stride, same: false);
        if (g.OutHeight < 1 || g.OutWidth < 1)
        {
            throw new ArgumentException($"MaxPool2D window {PoolSize}×{PoolSize} does not fit input {input}.");
        }
        return Shape.Image(g.OutHeight, g.OutWidth, input.Channels);
    }

    protected override void OnBuild(LayerContext context)
        => _g = ConvGeometry.Create(InputShape.Height, InputShape.Width, InputShape.Channels, PoolSize, Stride, same: false);

    public override void EnsureCapacity(int batch)
    {
        _y = Reserve(_y, OutputShape, batch);
        if (ComputeInputGradient)
        {
            _dx = Reserve(_dx, InputShape, batch);
        }
        if (_argmax.Length < batch * OutputShape.Size)
        {
            _argmax = new int[batch * OutputShape.Size];
        }
    }

    // x: [N, H, W, C] → y: [N, OH, OW, C]
    public override Tensor Forward(Tensor x, bool training)
    {
        CheckInput(x);
        EnsureCapacity(x.Batch);
        _x = x;
        _y!.SetBatch(x.Batch);
        Pool.For(Chunks.Count(x.Batch), _forwardChunk);
        return _y;
    }

    private void ForwardChunk(int chunk)
    {
        var (start, count) = Chunks.Range(chunk, _x!.Batch);
        int size = OutputShape.Size;
        for (int i = start; i < start + count; i++)
        {
            Pooling.MaxForward(_x.Sample(i), _g, _y!.Sample(i), _argmax.AsSpan(i * size, size));
        }
    }

    // dy: [N, OH, OW, C] → dx: [N, H, W, C], each dy routed to its window's argmax
    public override Tensor? Backward(Tensor dy)
    {
        if (!ComputeInputGradient)
        {
            return null;
        }
        _dy = dy;
        _dx!.SetBatch(dy.Batch);
        Pool.For(Chunks.Count(dy.Batch), _backwardChunk);
        return _dx;
    }

    private void BackwardChunk(int chunk)
    {
        var (start, count) = Chunks.Range(chunk, _dy!.Batch);
        int size = OutputShape.Size;
        // Windows that tile the input: one ordered pass writes dx; a remainder row or column is cleared.
        bool tiled = Stride == PoolSize && InputShape.Channels % 16 == 0 && System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;
        bool covered = InputShape.Height % PoolSize == 0 && InputShape.Width % PoolSize == 0;
        for (int i = start; i < start + count; i++)
        {
            var dx = _dx!.Sample(i);
            var argmax = _argmax.AsSpan(i * size, size);
            if (tiled)
            {
                if (!covered)
                {
                    dx.Clear();
                }
                Pooling.MaxBackwardTiled(_dy.Sample(i), argmax, RectifyGradient ? _x!.Sample(i) : default, _g, dx);
                continue;
            }
            dx.Clear();
            if (RectifyGradient)
            {
                Pooling.MaxBackwardRectified(_dy.Sample(i), argmax, _x!.Sample(i), dx);
            }
            else
            {
                Pooling.MaxBackward(_dy.Sample(i), argmax, dx);
            }
        }
    }
}
