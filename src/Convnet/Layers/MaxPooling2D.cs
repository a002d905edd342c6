using Convnet.Inference;
using Convnet.IO.Onnx;
using Convnet.Kernels;
using Convnet.Tensors;
using Convnet.Runtime;

namespace Convnet.Layers;

/// <summary>Max pooling with "valid" windows (Keras's default); remembers each window's argmax for backward.</summary>
public sealed class MaxPooling2D : Pooling2D, ILayerKind
{
    private int[] _argmax = [];

    /// <param name="poolSize">Window size.</param>
    /// <param name="stride">Step between windows; defaults to <paramref name="poolSize"/>.</param>
    public MaxPooling2D(int poolSize = 2, int? stride = null)
        : base(poolSize, stride)
    {
    }

    /// <inheritdoc/>
    public static string KindName => "MaxPooling2D";
    /// <inheritdoc/>
    public static string TokenForm => "maxpool<P>[s<S>]";

    /// <inheritdoc/>
    public static Layer FromConfig(LayerConfig config) => new MaxPooling2D(config.Int("pool_size"), config.Int("stride"));

    /// <inheritdoc/>
    public static Layer? ParseToken(string token)
        => ParseToken(token, "maxpool") is { } p ? new MaxPooling2D(p.PoolSize, p.Stride) : null;

    /// <inheritdoc/>
    public static OnnxLayer? FromOnnx(OnnxImportNode node)
        => node.OpType == "MaxPool" && OnnxWindow(node) is var (pool, stride) ? new(new MaxPooling2D(pool, stride), []) : null;

    /// <inheritdoc/>
    public override string FormatToken() => FormatToken("maxpool");

    /// <summary>
    /// Set by <see cref="PlanFusion"/> when this layer follows a ReLU: Backward then also applies
    /// that ReLU's mask, and the ReLU passes the gradient through untouched.
    /// </summary>
    internal bool RectifyGradient { get; private set; }

    /// <inheritdoc/>
    protected internal override bool CanRectifyInputGradient => true;

    /// <inheritdoc/>
    protected internal override void PlanFusion(Layer? previous, Layer? next) => RectifyGradient = previous is ReLU;

    /// <inheritdoc/>
    internal override bool CompileInference(InferenceCompiler compiler)
    {
        compiler.MaxPool(PoolSize, Stride, InputShape, OutputShape, Name);
        return true;
    }

    /// <inheritdoc/>
    public override string TypeName => KindName;
    /// <inheritdoc/>
    public override string DefaultName => "max_pooling2d";

    /// <inheritdoc/>
    // The argmax of every output (ints, the size of floats).
    public override long BufferValues(Shape input, int batch) => base.BufferValues(input, batch) + batch * Values(ComputeOutputShape(input));

    /// <inheritdoc/>
    public override void EnsureCapacity(int batch)
    {
        base.EnsureCapacity(batch);
        if (_argmax.Length < batch * OutputShape.Size)
        {
            _argmax = new int[batch * OutputShape.Size];
        }
    }

    /// <inheritdoc/>
    // x: [N, H, W, C] → y: [N, OH, OW, C]
    public override Tensor Forward(Tensor x, bool training)
    {
        StartForward(x);
        ForwardChunks();
        return Y;
    }

    /// <inheritdoc/>
    protected override void ForwardChunk(int chunk, int start, int count)
    {
        int size = OutputShape.Size;
        for (int i = start; i < start + count; i++)
        {
            Pooling.MaxForward(X!.Sample(i), Geometry, Y!.Sample(i), _argmax.AsSpan(i * size, size));
        }
    }

    /// <inheritdoc/>
    // dy: [N, OH, OW, C] → dx: [N, H, W, C], each dy routed to its window's argmax
    public override Tensor? Backward(Tensor dy) => BackwardInChunks(dy);

    /// <inheritdoc/>
    protected override void BackwardChunk(int chunk, int start, int count)
    {
        int size = OutputShape.Size;
        // Windows that tile the input: one ordered pass writes dx; a remainder row or column is cleared.
        bool tiled = Pooling.CanTileBackward(Geometry);
        bool covered = InputShape.Height % PoolSize == 0 && InputShape.Width % PoolSize == 0;
        for (int i = start; i < start + count; i++)
        {
            var dx = Dx!.Sample(i);
            var argmax = _argmax.AsSpan(i * size, size);
            if (tiled)
            {
                if (!covered)
                {
                    dx.Clear();
                }
                Pooling.MaxBackwardTiled(Dy!.Sample(i), argmax, RectifyGradient ? Y!.Sample(i) : default, Geometry, dx);
                continue;
            }
            dx.Clear();
            if (RectifyGradient)
            {
                Pooling.MaxBackwardRectified(Dy!.Sample(i), argmax, X!.Sample(i), dx);
            }
            else
            {
                Pooling.MaxBackward(Dy!.Sample(i), argmax, dx);
            }
        }
    }

    /// <inheritdoc/>
    // Our pooling windows are "valid": no padding, so ONNX's defaults (pads 0, ceil_mode 0) match.
    public override string ExportOnnx(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return graph.AddNode("MaxPool", [input], Name,
            OnnxAttribute.Of("kernel_shape", PoolSize, (long)PoolSize),
            OnnxAttribute.Of("strides", Stride, (long)Stride));
    }
}
