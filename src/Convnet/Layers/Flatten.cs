using Convnet.Inference;
using Convnet.Kernels;
using Convnet.IO.Onnx;
using Convnet.Tensors;

namespace Convnet.Layers;

/// <summary>
/// Flattens an image to a vector in (C, H, W) order, PyTorch's order, so a following Dense kernel
/// maps one-to-one onto a PyTorch Linear weight whatever the in-memory layout. Memory is
/// channels-last, so this is a small transpose of each sample.
/// </summary>
public sealed class Flatten : Layer, ILayerKind
{
    /// <inheritdoc/>
    public static string KindName => "Flatten";
    /// <inheritdoc/>
    public static string TokenForm => "flatten";

    /// <inheritdoc/>
    public static Layer FromConfig(LayerConfig config) => new Flatten();

    /// <inheritdoc/>
    public static Layer? ParseToken(string token) => token == "flatten" ? new Flatten() : null;

    /// <inheritdoc/>
    // ONNX Flatten (axis 1) or Reshape to [N, size] of NCHW: (C, H, W) order, as ours. Of a vector
    // (e.g. after GlobalAveragePool) there is nothing to do.
    public static OnnxLayer? FromOnnx(OnnxImportNode node)
    {
        if (node.OpType == "Flatten")
        {
            long axis = node.Int("axis", 1);
            if (axis != 1)
            {
                throw node.Refuse($"axis {axis}: convnet imports Flatten to [N, size] (axis 1)");
            }
        }
        else if (node.OpType == "Reshape")
        {
            var target = node.Constant(1);
            long size = node.Input.Size;
            bool flat = target.DataType == IO.Onnx.OnnxDataType.Int64 && target.Int64s is [var n, var k]
                && n is 0 or -1 && (k == size || k == -1 && n != -1);
            if (!flat || node.Int("allowzero", 0) != 0)
            {
                throw node.Refuse($"shape [{string.Join(", ", target.Int64s)}]: convnet imports Reshape only to [N, {size}] (as [0, -1], [-1, {size}] or [0, {size}])");
            }
        }
        else
        {
            return null;
        }
        return new(node.Input.IsImage ? new Flatten() : null, []);
    }

    /// <inheritdoc/>
    public override string FormatToken() => "flatten";

    /// <inheritdoc/>
    public override string TypeName => KindName;
    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>();
    /// <inheritdoc/>
    public override Shape ComputeOutputShape(Shape input) => Shape.Vector(input.Size);


    /// <inheritdoc/>
    // x: [N, H, W, C] → y: [N, C·H·W]
    public override Tensor Forward(Tensor x, bool training)
    {
        StartForward(x);
        ForwardChunks();
        return Y;
    }

    /// <inheritdoc/>
    protected override void ForwardChunk(int chunk, int start, int count)
    {
        int hw = InputShape.Height * InputShape.Width;
        for (int n = start; n < start + count; n++)
        {
            Layouts.Transpose(X!.Sample(n), hw, InputShape.Channels, Y!.Sample(n));
        }
    }

    /// <inheritdoc/>
    // dy: [N, C·H·W] → dx: [N, H, W, C]
    public override Tensor? Backward(Tensor dy) => BackwardInChunks(dy);

    /// <inheritdoc/>
    protected override void BackwardChunk(int chunk, int start, int count)
    {
        int hw = InputShape.Height * InputShape.Width;
        for (int n = start; n < start + count; n++)
        {
            Layouts.Transpose(Dy!.Sample(n), InputShape.Channels, hw, Dx!.Sample(n));
        }
    }

    /// <inheritdoc/>
    internal override bool CompileInference(InferenceCompiler compiler)
    {
        compiler.Flatten(InputShape, OutputShape, Name);
        return true;
    }

    /// <inheritdoc/>
    // ONNX's Flatten of NCHW gives the (C, H, W) order this layer gives: no transpose needed.
    public override string ExportOnnx(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return graph.AddNode("Flatten", [input], Name, OnnxAttribute.Of("axis", 1L));
    }
}
