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

    // A producer (the Conv2D before the ReLU before this layer) may pool its images here one by one
    // as it computes them, in a training step, so that its output map is never written whole
    // (StartProducedForward, ForwardSample); this layer's Forward then has nothing left to do, and
    // the producer routes each sample's gradient itself (InputGradientSample) where Backward would.
    private bool _produced;
    // Whether the latest Forward's pooling was the producer's.
    private bool _producedStep;

    /// <summary>
    /// Whether a producer can pool into this layer sample by sample: after a ReLU, windows that tile
    /// the input, so that the backward reads the ReLU's mask from the pooled output and never the
    /// input the producer does not keep.
    /// </summary>
    internal bool PoolsSamples => RectifyGradient && Pooling.CanTileBackward(Geometry);

    /// <summary>The producer's forward starts: its samples of <paramref name="x"/> (not written) arrive by <see cref="ForwardSample"/>.</summary>
    internal void StartProducedForward(Tensor x)
    {
        StartForward(x);
        _produced = true;
    }

    /// <summary>The producer's forward ran without this layer: the next Forward pools as usual.</summary>
    internal void CancelProducedForward() => _produced = false;

    /// <summary>Pools <paramref name="x"/>, sample <paramref name="sample"/>'s input, into the output and the argmax.</summary>
    // x: [H, W, C] → y[sample]: [OH, OW, C]
    internal void ForwardSample(ReadOnlySpan<float> x, int sample)
    {
        int size = OutputShape.Size;
        Pooling.MaxForward(x, Geometry, Y!.Sample(sample), _argmax.AsSpan(sample * size, size));
    }

    /// <inheritdoc/>
    // x: [N, H, W, C] → y: [N, OH, OW, C]
    public override Tensor Forward(Tensor x, bool training)
    {
        // The producer's output passed on by the ReLU: already pooled.
        _producedStep = _produced && ReferenceEquals(x, X);
        _produced = false;
        if (_producedStep)
        {
            return Y!;
        }
        StartForward(x);
        ForwardChunks();
        return Y;
    }

    /// <inheritdoc/>
    protected override void ForwardChunk(int chunk, int start, int count)
    {
        for (int i = start; i < start + count; i++)
        {
            ForwardSample(X!.Sample(i), i);
        }
    }

    /// <inheritdoc/>
    // dy: [N, OH, OW, C] → dx: [N, H, W, C], each dy routed to its window's argmax
    public override Tensor? Backward(Tensor dy)
    {
        if (_producedStep && ComputeInputGradient)
        {
            // dx is left unwritten: the producer asks for each sample's (InputGradientSample).
            StartBackward(dy);
            return Dx;
        }
        return BackwardInChunks(dy);
    }

    /// <inheritdoc/>
    protected override void BackwardChunk(int chunk, int start, int count)
    {
        for (int i = start; i < start + count; i++)
        {
            InputGradientSample(i, Dx!.Sample(i));
        }
    }

    /// <summary>Sample <paramref name="sample"/>'s input gradient, from the latest Backward's dy, into <paramref name="dx"/>.</summary>
    // dy[sample]: [OH, OW, C] → dx: [H, W, C]
    internal void InputGradientSample(int sample, Span<float> dx)
    {
        int size = OutputShape.Size;
        var argmax = _argmax.AsSpan(sample * size, size);
        // Windows that tile the input: one ordered pass writes dx; a remainder row or column is cleared.
        if (Pooling.CanTileBackward(Geometry))
        {
            if (InputShape.Height % PoolSize != 0 || InputShape.Width % PoolSize != 0)
            {
                dx.Clear();
            }
            Pooling.MaxBackwardTiled(Dy!.Sample(sample), argmax, RectifyGradient ? Y!.Sample(sample) : default, Geometry, dx);
            return;
        }
        dx.Clear();
        if (RectifyGradient)
        {
            Pooling.MaxBackwardRectified(Dy!.Sample(sample), argmax, X!.Sample(sample), dx);
        }
        else
        {
            Pooling.MaxBackward(Dy!.Sample(sample), argmax, dx);
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
