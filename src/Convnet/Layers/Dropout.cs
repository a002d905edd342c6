using Convnet.Inference;
using System.Globalization;
using Convnet.IO.Onnx;
using Convnet.Kernels;
using Convnet.Runtime;
using Convnet.Tensors;

namespace Convnet.Layers;

/// <summary>
/// Inverted dropout, as Keras's Dropout: in training each value is zeroed with probability
/// <see cref="Rate"/> and the kept ones are scaled by 1/(1 − rate), so inference is the identity.
/// The mask of sample i at training step t comes from the stream keyed by (model seed, layer index,
/// t, i): it depends neither on the thread count nor on how often Forward runs within a step.
/// </summary>
public sealed class Dropout : Layer, ILayerKind
{
    private float[] _mask = [];
    private ulong _stepKey;
    private bool _masked;

    /// <param name="rate">The probability that a value is zeroed in training, in [0, 1).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rate"/> is outside [0, 1) or NaN.</exception>
    public Dropout(float rate)
    {
        if (!(rate >= 0 && rate < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(rate), rate, "rate must be in [0, 1).");
        }
        Rate = rate;
    }

    /// <inheritdoc/>
    public static string KindName => "Dropout";
    /// <inheritdoc/>
    public static string TokenForm => "drop<rate>";

    /// <inheritdoc/>
    public static Layer FromConfig(LayerConfig config) => new Dropout(config.Float("rate"));

    /// <inheritdoc/>
    public static Layer? ParseToken(string token)
    {
        if (!token.StartsWith("drop", StringComparison.Ordinal))
        {
            return null;
        }
        string text = token["drop".Length..];
        if (text.Length == 0)
        {
            throw new FormatException("missing rate after 'drop'");
        }
        if (!float.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out float rate) || !(rate < 1))
        {
            throw new FormatException($"dropout rate '{text}' is not a number in [0, 1)");
        }
        return new Dropout(rate);
    }

    /// <inheritdoc/>
    // The ratio is an attribute before opset 12, an optional scalar input since (0.5 when absent).
    public static OnnxLayer? FromOnnx(OnnxImportNode node)
    {
        if (node.OpType != "Dropout")
        {
            return null;
        }
        float ratio = node.Has(1) ? node.Weight(1) is [var r] ? r : throw node.Refuse("ratio must be one number") : node.Float("ratio", 0.5f);
        return ratio is >= 0 and < 1 ? new(new Dropout(ratio), []) : throw node.Refuse($"ratio {ratio} is not in [0, 1)");
    }

    /// <inheritdoc/>
    public override string FormatToken() => "drop" + LayerConfig.Of(Rate);

    /// <summary>The probability that a value is zeroed in training, in [0, 1).</summary>
    public float Rate { get; }
    /// <inheritdoc/>
    public override string TypeName => KindName;

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>
    {
        ["rate"] = LayerConfig.Of(Rate),
    };

    /// <inheritdoc/>
    // The mask, one float per value.
    public override long BufferValues(Shape input, int batch) => base.BufferValues(input, batch) + batch * Values(input);

    /// <inheritdoc/>
    public override Shape ComputeOutputShape(Shape input) => input;

    /// <inheritdoc/>
    public override void EnsureCapacity(int batch)
    {
        base.EnsureCapacity(batch);
        if (_mask.Length < batch * InputShape.Size)
        {
            _mask = new float[batch * InputShape.Size];
        }
    }

    /// <summary>The mask of the last training Forward: 0 or 1/(1 − rate) per value, [N, ...].</summary>
    internal ReadOnlySpan<float> Mask => _mask.AsSpan(0, X!.Batch * InputShape.Size);

    /// <inheritdoc/>
    // x: [N, ...] → y = x ⊙ mask (training), y = x (inference)
    public override Tensor Forward(Tensor x, bool training)
    {
        StartForward(x);
        _masked = training && Rate > 0;
        if (!_masked)
        {
            x.Span.CopyTo(Y.Span);
            return Y;
        }
        var layer = Rng.Derive(Context.Seed, 0xD50B_0000UL + (ulong)Context.Index);
        _stepKey = Rng.Derive(layer.NextUInt64(), (ulong)Context.TrainingStep).NextUInt64();
        ForwardChunks();
        return Y;
    }

    /// <inheritdoc/>
    // Each sample's mask from its own index: any part of a chunk.
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
        int size = InputShape.Size;
        float scale = 1 / (1 - Rate);
        for (int i = start; i < start + count; i++)
        {
            var rng = Rng.Derive(_stepKey, (ulong)i);
            rng.FillDropoutMask(_mask.AsSpan(i * size, size), Rate, scale);
        }
        var m = _mask.AsSpan(start * size, count * size);
        Elementwise.Map<MultiplyOperator>(X!.Samples(start, count), m, Y!.Samples(start, count));
    }

    /// <inheritdoc/>
    // dy: [N, ...] → dx = dy ⊙ mask (the same mask as the forward pass)
    public override Tensor? Backward(Tensor dy)
    {
        if (!ComputeInputGradient)
        {
            return null;
        }
        StartBackward(dy);
        if (!_masked)
        {
            dy.Span.CopyTo(Dx!.Span);
            return Dx;
        }
        BackwardChunks();
        return Dx;
    }

    /// <inheritdoc/>
    protected override void BackwardChunk(int chunk, int start, int count)
    {
        int size = InputShape.Size;
        Elementwise.Map<MultiplyOperator>(Dy!.Samples(start, count), _mask.AsSpan(start * size, count * size), Dx!.Samples(start, count));
    }

    /// <inheritdoc/>
    // The identity at inference: no stage.
    internal override bool CompileInference(InferenceCompiler compiler) => true;

    /// <inheritdoc/>
    // The identity at inference: no node.
    public override string ExportOnnx(OnnxGraphBuilder graph, string input) => input;
}
