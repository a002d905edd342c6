using Convnet.Kernels;
using Convnet.Tensors;

namespace Convnet.Layers;

/// <summary>y = max(x, 0); dx = dy where x &gt; 0.</summary>
public sealed class ReLU : Layer, ILayerKind
{
    public static string KindName => "ReLU";
    public static string TokenForm => "relu";

    public static Layer FromConfig(LayerConfig config) => new ReLU();

    public static Layer? ParseToken(string token) => token == "relu" ? new ReLU() : null;

    public override string FormatToken() => "relu";

    public override bool JoinsPreviousToken => true;

    /// <summary>Set by <see cref="PlanFusion"/> when the previous layer already rectifies its output (in its GEMM epilogue).</summary>
    internal bool InputIsRectified { get; private set; }

    /// <summary>Set by <see cref="PlanFusion"/> when the next layer's Backward already applies this layer's mask.</summary>
    internal bool GradientIsRectified { get; private set; }

    protected internal override void PlanFusion(Layer? previous, Layer? next)
    {
        InputIsRectified = previous is { CanRectifyOutput: true };
        GradientIsRectified = next is { CanRectifyInputGradient: true };
    }

    public override string TypeName => KindName;
    public override string DefaultName => "re_lu";
    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>();
    public override Shape ComputeOutputShape(Shape input) => input;


    public override Tensor Forward(Tensor x, bool training)
    {
        CheckInput(x);
        EnsureCapacity(x.Batch);
        X = x;
        if (InputIsRectified)
        {
            // max(x, 0) = x: the previous layer applied it in its GEMM epilogue.
            return x;
        }
        Y!.SetBatch(x.Batch);
        ForwardChunks();
        return Y;
    }

    protected override void ForwardChunk(int chunk, int start, int count)
    {
        Elementwise.Map<ReluOperator>(X!.Samples(start, count), Y!.Samples(start, count));
    }

    public override Tensor? Backward(Tensor dy)
    {
        if (!ComputeInputGradient)
        {
            return null;
        }
        if (GradientIsRectified)
        {
            // dy is already zero wherever x ≤ 0: the next layer's Backward applied the mask.
            return dy;
        }
        StartBackward(dy);
        BackwardChunks();
        return Dx;
    }

    protected override void BackwardChunk(int chunk, int start, int count)
    {
        Elementwise.Map<ReluGradientOperator>(X!.Samples(start, count), Dy!.Samples(start, count), Dx!.Samples(start, count));
    }
}
