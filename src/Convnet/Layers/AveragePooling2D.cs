using Convnet.IO.Onnx;
using Convnet.Kernels;
using Convnet.Tensors;

namespace Convnet.Layers;

/// <summary>Average pooling with "valid" windows (Keras's default): each output is the mean of its window.</summary>
public sealed class AveragePooling2D : Pooling2D, ILayerKind
{
    /// <param name="poolSize">Window size.</param>
    /// <param name="stride">Step between windows; defaults to <paramref name="poolSize"/>.</param>
    public AveragePooling2D(int poolSize = 2, int? stride = null)
        : base(poolSize, stride)
    {
    }

    /// <inheritdoc/>
    public static string KindName => "AveragePooling2D";
    /// <inheritdoc/>
    public static string TokenForm => "avgpool<P>[s<S>]";

    /// <inheritdoc/>
    public static Layer FromConfig(LayerConfig config) => new AveragePooling2D(config.Int("pool_size"), config.Int("stride"));

    /// <inheritdoc/>
    public static Layer? ParseToken(string token)
        => ParseToken(token, "avgpool") is { } p ? new AveragePooling2D(p.PoolSize, p.Stride) : null;

    /// <inheritdoc/>
    // Without padding, count_include_pad changes nothing.
    public static OnnxLayer? FromOnnx(OnnxImportNode node)
        => node.OpType == "AveragePool" && OnnxWindow(node) is var (pool, stride) ? new(new AveragePooling2D(pool, stride), []) : null;

    /// <inheritdoc/>
    public override string FormatToken() => FormatToken("avgpool");

    /// <inheritdoc/>
    public override string TypeName => KindName;
    /// <inheritdoc/>
    public override string DefaultName => "average_pooling2d";

    /// <inheritdoc/>
    // x: [N, H, W, C] → y: [N, OH, OW, C], each output the mean of its window
    public override Tensor Forward(Tensor x, bool training)
    {
        StartForward(x);
        ForwardChunks();
        return Y;
    }

    /// <inheritdoc/>
    protected override void ForwardChunk(int chunk, int start, int count)
    {
        for (int n = start; n < start + count; n++)
        {
            Pooling.AverageForward(X!.Sample(n), Geometry, Y!.Sample(n));
        }
    }

    /// <inheritdoc/>
    // dy: [N, OH, OW, C] → dx: every input of a window receives dy/k²
    public override Tensor? Backward(Tensor dy) => BackwardInChunks(dy);

    /// <inheritdoc/>
    protected override void BackwardChunk(int chunk, int start, int count)
    {
        for (int n = start; n < start + count; n++)
        {
            Pooling.AverageBackward(Dy!.Sample(n), Geometry, Dx!.Sample(n));
        }
    }

    /// <inheritdoc/>
    // "Valid" windows: every window lies inside the image, so count_include_pad does not matter.
    public override string ExportOnnx(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return graph.AddNode("AveragePool", [input], Name,
            OnnxAttribute.Of("kernel_shape", PoolSize, (long)PoolSize),
            OnnxAttribute.Of("strides", Stride, (long)Stride));
    }
}
