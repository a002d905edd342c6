using System.Globalization;
using Convnet.IO.Onnx;
using Convnet.Kernels;
using Convnet.Runtime;
using Convnet.Tensors;

namespace Convnet.Layers;

/// <summary>
/// y = x for x &gt; 0, else negative_slope·x, as Keras's LeakyReLU (default slope 0.3; PyTorch's
/// nn.LeakyReLU defaults to 0.01 and, like this layer, saves no tensors). Spec token
/// <c>leakyrelu</c> (slope 0.3) or <c>leakyrelu&lt;slope&gt;</c>, e.g. <c>conv32k3-leakyrelu0.1</c>.
/// </summary>
public sealed class LeakyReLU : Layer, ILayerKind
{
    /// <summary>Keras's default slope for x ≤ 0, 0.3.</summary>
    public const float DefaultNegativeSlope = 0.3f;

    /// <param name="negativeSlope">The factor applied to inputs ≤ 0, finite and ≥ 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="negativeSlope"/> is negative, infinite or NaN.</exception>
    public LeakyReLU(float negativeSlope = DefaultNegativeSlope)
    {
        if (!(negativeSlope >= 0) || float.IsInfinity(negativeSlope))
        {
            throw new ArgumentOutOfRangeException(nameof(negativeSlope), negativeSlope, "negativeSlope must be a finite number >= 0.");
        }
        NegativeSlope = negativeSlope;
    }

    /// <inheritdoc/>
    public static string KindName => "LeakyReLU";
    /// <inheritdoc/>
    public static string TokenForm => "leakyrelu[<slope>]";

    /// <inheritdoc/>
    public static Layer FromConfig(LayerConfig config) => new LeakyReLU(config.Float("negative_slope"));

    /// <inheritdoc/>
    public static Layer? ParseToken(string token)
    {
        if (!token.StartsWith("leakyrelu", StringComparison.Ordinal))
        {
            return null;
        }
        string text = token["leakyrelu".Length..];
        if (text.Length == 0)
        {
            return new LeakyReLU();
        }
        return float.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out float slope) && float.IsFinite(slope)
            ? new LeakyReLU(slope)
            : throw new FormatException($"negative slope '{text}' is not a number >= 0 (the form is {TokenForm})");
    }

    /// <inheritdoc/>
    // ONNX's alpha defaults to 0.01.
    public static OnnxLayer? FromOnnx(OnnxImportNode node) => node.OpType == "LeakyRelu" ? new(new LeakyReLU(node.Float("alpha", 0.01f)), []) : null;

    /// <inheritdoc/>
    public override string FormatToken() => NegativeSlope == DefaultNegativeSlope ? "leakyrelu" : "leakyrelu" + LayerConfig.Of(NegativeSlope);

    /// <inheritdoc/>
    public override bool JoinsPreviousToken => true;

    /// <summary>The factor applied to inputs ≤ 0 (Keras's negative_slope).</summary>
    public float NegativeSlope { get; }
    /// <inheritdoc/>
    public override string TypeName => KindName;
    /// <inheritdoc/>
    public override string DefaultName => "leaky_re_lu";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>
    {
        ["negative_slope"] = LayerConfig.Of(NegativeSlope),
    };

    /// <inheritdoc/>
    public override Shape ComputeOutputShape(Shape input) => input;

    /// <inheritdoc/>
    // x: [N, ...] → y = x > 0 ? x : slope·x
    public override Tensor Forward(Tensor x, bool training)
    {
        StartForward(x);
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
        => Elementwise.Map<LeakyReluOperator>(X!.Samples(start, count), NegativeSlope, Y!.Samples(start, count));

    /// <inheritdoc/>
    // dy: [N, ...] → dx = x > 0 ? dy : slope·dy
    public override Tensor? Backward(Tensor dy) => BackwardInChunks(dy);

    /// <inheritdoc/>
    protected override void BackwardChunk(int chunk, int start, int count)
        => Elementwise.Map<LeakyReluGradientOperator>(X!.Samples(start, count), Dy!.Samples(start, count), NegativeSlope, Dx!.Samples(start, count));

    /// <inheritdoc/>
    public override string ExportOnnx(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return graph.AddNode("LeakyRelu", [input], Name, OnnxAttribute.Of("alpha", NegativeSlope));
    }
}
