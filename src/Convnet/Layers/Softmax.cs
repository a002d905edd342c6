using Convnet.Tensors;

namespace Convnet.Layers;

/// <summary>
/// y = softmax(x) over the features of each sample. When a model ends with Softmax and is trained
/// with cross-entropy, <see cref="Models.Sequential"/> fuses the two and skips this Backward.
/// </summary>
public sealed class Softmax : Layer, ILayerKind
{
    public static string KindName => "Softmax";
    public static string TokenForm => "softmax";

    public static Layer FromConfig(LayerConfig config) => new Softmax();

    public static Layer? ParseToken(string token) => token == "softmax" ? new Softmax() : null;

    public override string FormatToken() => "softmax";

    public override bool JoinsPreviousToken => true;

    public override string TypeName => KindName;
    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>();

    public override Shape ComputeOutputShape(Shape input)
    {
        if (input.IsImage)
        {
            throw new ArgumentException($"Softmax needs a vector input, got {input}.");
        }
        return input;
    }


    // x: [N, K] → y: [N, K]
    public override Tensor Forward(Tensor x, bool training)
    {
        StartForward(x);
        Kernels.Softmax.Forward(x.Span, x.Batch, InputShape.Size, Y.Span);
        return Y;
    }

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
}
