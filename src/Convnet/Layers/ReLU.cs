using Convnet.Inference;
using Convnet.IO.Onnx;
using Convnet.Kernels;
using Convnet.Runtime;
using Convnet.Tensors;

namespace Convnet.Layers;

/// <summary>y = max(x, 0); dx = dy where x &gt; 0.</summary>
public sealed class ReLU : Layer, ILayerKind
{
    /// <inheritdoc/>
    public static string KindName => "ReLU";
    /// <inheritdoc/>
    public static string TokenForm => "relu";

    /// <inheritdoc/>
    public static Layer FromConfig(LayerConfig config) => new ReLU();

    /// <inheritdoc/>
    public static Layer? ParseToken(string token) => token == "relu" ? new ReLU() : null;

    /// <inheritdoc/>
    public static OnnxLayer? FromOnnx(OnnxImportNode node) => node.OpType == "Relu" ? new(new ReLU(), []) : null;

    /// <inheritdoc/>
    public override string FormatToken() => "relu";

    /// <inheritdoc/>
    public override bool JoinsPreviousToken => true;

    /// <summary>Set by <see cref="PlanFusion"/> when the previous layer already rectifies its output (in its GEMM epilogue).</summary>
    internal bool InputIsRectified { get; private set; }

    /// <summary>Set by <see cref="PlanFusion"/> when the next layer's Backward already applies this layer's mask.</summary>
    internal bool GradientIsRectified { get; private set; }

    /// <inheritdoc/>
    protected internal override void PlanFusion(Layer? previous, Layer? next)
    {
        InputIsRectified = previous is { CanRectifyOutput: true };
        GradientIsRectified = next is { CanRectifyInputGradient: true };
    }

    /// <inheritdoc/>
    public override string TypeName => KindName;
    /// <inheritdoc/>
    public override string DefaultName => "re_lu";
    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>();
    /// <inheritdoc/>
    public override Shape ComputeOutputShape(Shape input) => input;


    /// <inheritdoc/>
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

    /// <inheritdoc/>
    // Each value on its own: any part of a chunk.
    protected override int ForwardItemSamples => Chunks.Part;

    /// <inheritdoc/>
    protected override int BackwardItemSamples => Chunks.Part;

    /// <inheritdoc/>
    protected override int ForwardRunSamples => 1;

    /// <inheritdoc/>
    protected override int BackwardRunSamples => 1;

    /// <inheritdoc/>
    protected override void ForwardChunk(int chunk, int start, int count)
    {
        Elementwise.Map<ReluOperator>(X!.Samples(start, count), Y!.Samples(start, count));
    }

    /// <inheritdoc/>
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

    /// <inheritdoc/>
    protected override void BackwardChunk(int chunk, int start, int count)
    {
        Elementwise.Map<ReluGradientOperator>(X!.Samples(start, count), Dy!.Samples(start, count), Dx!.Samples(start, count));
    }

    /// <inheritdoc/>
    internal override bool CompileInference(InferenceCompiler compiler)
    {
        compiler.Rectify(Name, OutputShape);
        return true;
    }

    /// <inheritdoc/>
    public override string ExportOnnx(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return graph.AddNode("Relu", [input], Name);
    }
}
