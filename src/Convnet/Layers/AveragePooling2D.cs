using System.Globalization;
using Convnet.Kernels;
using Convnet.Tensors;

namespace Convnet.Layers;

/// <summary>Average pooling with "valid" windows (Keras's default): each output is the mean of its window.</summary>
public sealed class AveragePooling2D : Layer
{
    private readonly Action<int> _forwardChunk;
    private readonly Action<int> _backwardChunk;
    private ConvGeometry _g;

    /// <param name="poolSize">Window size.</param>
    /// <param name="stride">Step between windows; defaults to <paramref name="poolSize"/>.</param>
    public AveragePooling2D(int poolSize = 2, int? stride = null)
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

    public int PoolSize { get; }
    public int Stride { get; }
    public override string TypeName => "AveragePooling2D";
    public override string DefaultName => "average_pooling2d";

    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>
    {
        ["pool_size"] = PoolSize.ToString(CultureInfo.InvariantCulture),
        ["stride"] = Stride.ToString(CultureInfo.InvariantCulture),
    };

    public override Shape ComputeOutputShape(Shape input)
    {
        if (!input.IsImage)
        {
            throw new ArgumentException($"AveragePooling2D needs an image input (H, W, C), got {input}.");
        }
        var g = ConvGeometry.Create(input.Height, input.Width, input.Channels, PoolSize, Stride, same: false);
        if (g.OutHeight < 1 || g.OutWidth < 1)
        {
            throw new ArgumentException($"AveragePooling2D window {PoolSize}×{PoolSize} does not fit input {input}.");
        }
        return Shape.Image(g.OutHeight, g.OutWidth, input.Channels);
    }

    protected override void OnBuild(LayerContext context)
        => _g = ConvGeometry.Create(InputShape.Height, InputShape.Width, InputShape.Channels, PoolSize, Stride, same: false);


    // x: [N, H, W, C] → y[n, oy, ox, c] = (1/k²)·Σ_{window} x[n, oy·s + i, ox·s + j, c]
    public override Tensor Forward(Tensor x, bool training)
    {
        StartForward(x);
        Pool.For(Chunks.Count(x.Batch), _forwardChunk);
        return Y;
    }

    private void ForwardChunk(int chunk)
    {
        var (start, count) = Chunks.Range(chunk, X!.Batch);
        int c = _g.Channels, k = PoolSize;
        float scale = 1f / (k * k);
        for (int n = start; n < start + count; n++)
        {
            var x = X.Sample(n);
            var y = Y!.Sample(n);
            for (int oy = 0; oy < _g.OutHeight; oy++)
            {
                for (int ox = 0; ox < _g.OutWidth; ox++)
                {
                    var yo = y.Slice((oy * _g.OutWidth + ox) * c, c);
                    yo.Clear();
                    for (int i = 0; i < k; i++)
                    {
                        for (int j = 0; j < k; j++)
                        {
                            var xi = x.Slice(((oy * Stride + i) * _g.Width + ox * Stride + j) * c, c);
                            Elementwise.Map<AddOperator>(yo, xi, yo);
                        }
                    }
                    for (int ch = 0; ch < c; ch++)
                    {
                        yo[ch] *= scale;
                    }
                }
            }
        }
    }

    // dy: [N, OH, OW, C] → dx: every input of a window receives dy/k²
    public override Tensor? Backward(Tensor dy)
    {
        if (!ComputeInputGradient)
        {
            return null;
        }
        Dy = dy;
        Dx!.SetBatch(dy.Batch);
        Pool.For(Chunks.Count(dy.Batch), _backwardChunk);
        return Dx;
    }

    private void BackwardChunk(int chunk)
    {
        var (start, count) = Chunks.Range(chunk, Dy!.Batch);
        int c = _g.Channels, k = PoolSize;
        float scale = 1f / (k * k);
        for (int n = start; n < start + count; n++)
        {
            var dy = Dy.Sample(n);
            var dx = Dx!.Sample(n);
            dx.Clear();
            for (int oy = 0; oy < _g.OutHeight; oy++)
            {
                for (int ox = 0; ox < _g.OutWidth; ox++)
                {
                    var g = dy.Slice((oy * _g.OutWidth + ox) * c, c);
                    for (int i = 0; i < k; i++)
                    {
                        for (int j = 0; j < k; j++)
                        {
                            var dxi = dx.Slice(((oy * Stride + i) * _g.Width + ox * Stride + j) * c, c);
                            for (int ch = 0; ch < c; ch++)
                            {
                                dxi[ch] += g[ch] * scale;
                            }
                        }
                    }
                }
            }
        }
    }
}
