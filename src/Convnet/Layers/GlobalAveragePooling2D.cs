using Convnet.IO.Onnx;
using Convnet.Kernels;
using Convnet.Tensors;

namespace Convnet.Layers;

/// <summary>The mean of each channel over the whole image: (H, W, C) → (C), as Keras's GlobalAveragePooling2D.</summary>
public sealed class GlobalAveragePooling2D : Layer, ILayerKind
{
    /// <inheritdoc/>
    public static string KindName => "GlobalAveragePooling2D";
    /// <inheritdoc/>
    public static string TokenForm => "gap";

    /// <inheritdoc/>
    public static Layer FromConfig(LayerConfig config) => new GlobalAveragePooling2D();

    /// <inheritdoc/>
    public static Layer? ParseToken(string token) => token == "gap" ? new GlobalAveragePooling2D() : null;

    /// <inheritdoc/>
    // ONNX's [N, C, 1, 1] is our vector [C]; the Flatten that usually follows then has nothing to do.
    public static OnnxLayer? FromOnnx(OnnxImportNode node) => node.OpType == "GlobalAveragePool" ? new(new GlobalAveragePooling2D(), []) : null;

    /// <inheritdoc/>
    public override string FormatToken() => "gap";

    /// <inheritdoc/>
    public override string TypeName => KindName;
    /// <inheritdoc/>
    public override string DefaultName => "global_average_pooling2d";
    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>();

    /// <inheritdoc/>
    public override Shape ComputeOutputShape(Shape input)
    {
        if (!input.IsImage)
        {
            throw new ArgumentException($"GlobalAveragePooling2D needs an image input (H, W, C), got {input}.");
        }
        return Shape.Vector(input.Channels);
    }


    /// <inheritdoc/>
    // x: [N, H, W, C] → y[n, c] = (1/(H·W))·Σ_{h,w} x[n, h, w, c]
    public override Tensor Forward(Tensor x, bool training)
    {
        StartForward(x);
        ForwardChunks();
        return Y;
    }

    /// <inheritdoc/>
    protected override void ForwardChunk(int chunk, int start, int count)
    {
        int pixels = InputShape.Height * InputShape.Width;
        float scale = 1f / pixels;
        for (int n = start; n < start + count; n++)
        {
            var y = Y!.Sample(n);
            y.Clear();
            Elementwise.AddColumnSums(X!.Sample(n), pixels, y);
            for (int c = 0; c < y.Length; c++)
            {
                y[c] *= scale;
            }
        }
    }

    /// <inheritdoc/>
    // dy: [N, C] → dx[n, h, w, c] = dy[n, c]/(H·W)
    public override Tensor? Backward(Tensor dy) => BackwardInChunks(dy);

    /// <inheritdoc/>
    protected override void BackwardChunk(int chunk, int start, int count)
    {
        int c = InputShape.Channels;
        int pixels = InputShape.Height * InputShape.Width;
        float scale = 1f / pixels;
        for (int n = start; n < start + count; n++)
        {
            var dy = Dy!.Sample(n);
            var dx = Dx!.Sample(n);
            for (int p = 0; p < pixels; p++)
            {
                for (int ch = 0; ch < c; ch++)
                {
                    dx[p * c + ch] = dy[ch] * scale;
                }
            }
        }
    }

    /// <inheritdoc/>
    // [N, C, H, W] → GlobalAveragePool [N, C, 1, 1] → Flatten [N, C], our vector.
    public override string ExportOnnx(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        string pooled = graph.AddNode("GlobalAveragePool", [input], Name + ".pooled");
        return graph.AddNode("Flatten", [pooled], Name, OnnxAttribute.Of("axis", 1L));
    }
}
