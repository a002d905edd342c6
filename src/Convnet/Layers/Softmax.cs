using Convnet.Inference;
using Convnet.IO.Onnx;
using Convnet.Tensors;

namespace Convnet.Layers;

/// <summary>
/// y = softmax(x) over the features of each sample. When a model ends with Softmax and is trained
/// with cross-entropy, <see cref="Models.Sequential"/> fuses the two and skips this Backward.
/// </summary>
public sealed class Softmax : Layer, ILayerKind
{
    /// <inheritdoc/>
    public static string KindName => "Softmax";
    /// <inheritdoc/>
    public static string TokenForm => "softmax";

    /// <inheritdoc/>
    public static Layer FromConfig(LayerConfig config) => new Softmax();

    /// <inheritdoc/>
    public static Layer? ParseToken(string token) => token == "softmax" ? new Softmax() : null;

    /// <inheritdoc/>
    // Over the classes of [N, classes]: axis 1 or -1 (opset 13's default; earlier opsets' 1 is the same for 2-D).
    public static OnnxLayer? FromOnnx(OnnxImportNode node)
    {
        if (node.OpType != "Softmax")
        {
            return null;
        }
        if (node.Input.IsImage)
        {
            throw node.Refuse($"convnet imports Softmax over a vector of class scores, got {node.Input}");
        }
        long axis = node.Int("axis", -1);
        return axis is 1 or -1 ? new(new Softmax(), []) : throw node.Refuse($"axis {axis}: convnet imports Softmax over the classes (axis 1)");
    }

    /// <inheritdoc/>
    public override string FormatToken() => "softmax";

    /// <inheritdoc/>
    public override bool JoinsPreviousToken => true;

    /// <inheritdoc/>
    public override string TypeName => KindName;
    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>();

    /// <inheritdoc/>
    public override Shape ComputeOutputShape(Shape input)
    {
        if (input.IsImage)
        {
            throw new ArgumentException($"Softmax needs a vector input, got {input}.");
        }
        return input;
    }


    /// <inheritdoc/>
    // x: [N, K] → y: [N, K]
    public override Tensor Forward(Tensor x, bool training)
    {
        StartForward(x);
        Kernels.Softmax.Forward(x.Span, x.Batch, InputShape.Size, Y.Span);
        return Y;
    }

    /// <inheritdoc/>
    // dy: [N, K] → dx = y ⊙ (dy − ⟨dy, y⟩)
    public override Tensor? Backward(Tensor dy)
    {
        if (!ComputeInputGradient)
        {
            return null;
        }
        StartBackward(dy);
        Kernels.Softmax.Backward(Y!.Span, dy.Span, dy.Batch, InputShape.Size, Dx!.Span);
        return Dx;
    }

    /// <inheritdoc/>
    internal override bool CompileInference(InferenceCompiler compiler)
    {
        compiler.Add(new SoftmaxStage(Name, OutputShape));
        return true;
    }

    /// <inheritdoc/>
    // Over the class axis of [N, classes] (opset 13's single-axis Softmax).
    public override string ExportOnnx(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return graph.AddNode("Softmax", [input], Name, OnnxAttribute.Of("axis", 1L));
    }
}
