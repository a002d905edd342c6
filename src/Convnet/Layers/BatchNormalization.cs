using Convnet.Inference;
using System.Globalization;
using Convnet.IO.Onnx;
using Convnet.Kernels;
using Convnet.Tensors;
using Convnet.Runtime;

namespace Convnet.Layers;

/// <summary>
/// Batch normalization (Ioffe and Szegedy, 2015) as Keras's BatchNormalization: per channel of an
/// image (over N, H, W; channels-last, so channel c is every C-th value) or per feature of a vector.
/// Training normalizes with the batch statistics and updates the moving ones,
/// moving ← momentum·moving + (1 − momentum)·batch (with the biased batch variance, as Keras);
/// inference normalizes with the moving statistics. γ (init 1) and β (init 0) are trained; the
/// moving mean and variance are non-trainable <see cref="Layer.State"/>, saved as PyTorch's
/// running_mean and running_var. PyTorch's momentum is the weight of the new batch: PyTorch
/// momentum = 1 − Keras momentum (0.01 for the default 0.99), and its eps default is 1e-5, not
/// 1e-3, so a PyTorch twin needs BatchNorm2d(C, eps=1e-3, momentum=0.01). PyTorch also updates
/// running_var with the unbiased variance; inference uses the stored values identically.
/// Statistics are summed in double per 16-sample chunk, then over chunks in chunk order, so the
/// result does not depend on the thread count.
/// </summary>
public sealed class BatchNormalization : Layer, ILayerKind
{
    private readonly Action<int> _sumChunk;
    private readonly Action<int> _squareChunk;
    private readonly Action<int> _gradientSumChunk;
    private Parameter? _gamma, _beta;
    private LayerState? _movingMean, _movingVariance;
    private double[] _partials = [];
    private double[] _partials2 = [];
    private double[] _mean = [];
    private double[] _sumDy = [];
    private double[] _sumDyXhat = [];
    private float[] _shift = [];
    private float[] _invStd = [];
    private float[] _scale = [];
    private double[] _meanDy = [];
    private double[] _meanDyXhat = [];
    private bool _training;
    private int _channels, _rowsPerSample;

    /// <summary>
    /// Doubles between two chunks' partial sums: the channels rounded up to a 64-byte line, plus
    /// a line, so that no cache line holds two chunks' sums (threads summing neighbouring chunks
    /// would otherwise write the same line for every row).
    /// </summary>
    private int PartialStride => (_channels + 7) / 8 * 8 + 8;

    /// <param name="momentum">Weight of the old moving statistics in each update, in [0, 1] (Keras's default 0.99).</param>
    /// <param name="epsilon">Added to the variance before its square root, positive and finite (Keras's default 1e-3).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is outside its range; the message names it.</exception>
    public BatchNormalization(float momentum = 0.99f, float epsilon = 1e-3f)
    {
        if (!(momentum >= 0 && momentum <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must be in [0, 1].");
        }
        if (!(epsilon > 0) || float.IsInfinity(epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "epsilon must be positive and finite.");
        }
        Momentum = momentum;
        Epsilon = epsilon;
        _sumChunk = SumChunk;
        _squareChunk = SquareChunk;
        _gradientSumChunk = GradientSumChunk;
    }

    /// <inheritdoc/>
    public static string KindName => "BatchNormalization";
    /// <inheritdoc/>
    public static string TokenForm => "bn";

    /// <inheritdoc/>
    public static Layer FromConfig(LayerConfig config) => new BatchNormalization(config.Float("momentum"), config.Float("epsilon"));

    /// <inheritdoc/>
    public static Layer? ParseToken(string token) => token == "bn" ? new BatchNormalization() : null;

    /// <inheritdoc/>
    // ONNX BatchNormalization in inference form: X, scale (γ), B (β), input_mean, input_var, each [C];
    // its momentum is ours (the old statistics' weight, default 0.9), epsilon defaults to 1e-5.
    public static OnnxLayer? FromOnnx(OnnxImportNode node)
    {
        if (node.OpType != "BatchNormalization")
        {
            return null;
        }
        if (node.Int("training_mode", 0) != 0)
        {
            throw node.Refuse("training_mode 1: convnet imports BatchNormalization in inference form");
        }
        if (node.FlattenedChannelsLast is not null)
        {
            throw node.Refuse("convnet imports BatchNormalization of images, or of vectors flattened in (C, H, W) order");
        }
        int c = node.Input.Channels;
        float momentum = node.Float("momentum", 0.9f), epsilon = node.Float("epsilon", 1e-5f);
        if (!(momentum >= 0 && momentum <= 1) || !(epsilon > 0) || float.IsInfinity(epsilon))
        {
            throw node.Refuse($"momentum {momentum} must be in [0, 1] and epsilon {epsilon} positive");
        }
        return new(new BatchNormalization(momentum, epsilon), [node.Weight(1, c), node.Weight(2, c), node.Weight(3, c), node.Weight(4, c)]);
    }

    /// <inheritdoc/>
    public override string FormatToken() => Momentum == 0.99f && Epsilon == 1e-3f
        ? "bn"
        : throw new NotSupportedException("a spec's 'bn' has Keras's defaults (momentum 0.99, epsilon 0.001)");

    /// <inheritdoc/>
    public override bool JoinsPreviousToken => true;

    /// <summary>
    /// Set by <see cref="PlanFusion"/> when this layer follows a ReLU: Backward then also applies the
    /// ReLU's mask (zero where x ≤ 0, x being the ReLU's output), and the ReLU's own Backward becomes a no-op.
    /// </summary>
    internal bool RectifyGradient { get; private set; }

    /// <inheritdoc/>
    protected internal override bool CanRectifyInputGradient => true;

    /// <inheritdoc/>
    protected internal override void PlanFusion(Layer? previous, Layer? next) => RectifyGradient = previous is ReLU;

    /// <inheritdoc/>
    // Inference form: γ·(x − mean)/√(var + ε) + β as x·scale + shift.
    internal override bool CompileInference(InferenceCompiler compiler)
    {
        int c = Gamma.Length;
        var scale = new float[c];
        var shift = new float[c];
        for (int i = 0; i < c; i++)
        {
            double s = Gamma.Value[i] / Math.Sqrt((double)MovingVariance[i] + Epsilon);
            scale[i] = (float)s;
            shift[i] = (float)(Beta.Value[i] - MovingMean[i] * s);
        }
        compiler.Affine(scale, shift, Name, OutputShape);
        return true;
    }

    /// <summary>Weight of the old moving statistics in each update, in [0, 1] (Keras's convention; PyTorch's momentum is 1 − this).</summary>
    public float Momentum { get; }
    /// <summary>Added to the variance before its square root: x̂ = (x − mean) / √(var + ε).</summary>
    public float Epsilon { get; }
    /// <inheritdoc/>
    public override string TypeName => KindName;
    /// <inheritdoc/>
    public override string DefaultName => "batch_normalization";

    /// <summary>γ: [C].</summary>
    public Parameter Gamma => _gamma ?? throw new InvalidOperationException("Not built.");

    /// <summary>β: [C].</summary>
    public Parameter Beta => _beta ?? throw new InvalidOperationException("Not built.");

    /// <summary>[C], non-trainable.</summary>
    public float[] MovingMean => (_movingMean ?? throw new InvalidOperationException("Not built.")).Values;

    /// <summary>[C], non-trainable.</summary>
    public float[] MovingVariance => (_movingVariance ?? throw new InvalidOperationException("Not built.")).Values;

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>
    {
        ["momentum"] = Momentum.ToString("R", CultureInfo.InvariantCulture),
        ["epsilon"] = Epsilon.ToString("R", CultureInfo.InvariantCulture),
    };

    /// <inheritdoc/>
    public override Shape ComputeOutputShape(Shape input) => input;

    /// <inheritdoc/>
    // PyTorch's BatchNorm1d/2d: weight (γ), bias (β), running_mean, running_var, each [C]
    public override IReadOnlyList<TensorDeclaration> DeclareTensors(Shape input) =>
        [new("weight", input.Channels), new("bias", input.Channels), new("running_mean", input.Channels) { IsState = true }, new("running_var", input.Channels) { IsState = true }];

    /// <inheritdoc/>
    public override float[][] SaveOwnTensors() =>
        [Gamma.Value.ToArray(), Beta.Value.ToArray(), (float[])MovingMean.Clone(), (float[])MovingVariance.Clone()];

    /// <inheritdoc/>
    public override void LoadOwnTensors(IReadOnlyList<float[]> tensors)
    {
        tensors[0].CopyTo(Gamma.Value);
        tensors[1].CopyTo(Beta.Value);
        tensors[2].CopyTo(MovingMean, 0);
        tensors[3].CopyTo(MovingVariance, 0);
    }

    /// <inheritdoc/>
    protected override void OnBuild(LayerContext context)
    {
        _channels = InputShape.Channels;
        _rowsPerSample = InputShape.Size / _channels;
        _gamma = AddParameter(context, "gamma", _channels);
        _beta = AddParameter(context, "beta", _channels);
        _gamma.Value.Fill(1);
        _movingMean = AddState("running_mean", _channels, 0);
        _movingVariance = AddState("running_var", _channels, 1);
        _mean = new double[_channels];
        _sumDy = new double[_channels];
        _sumDyXhat = new double[_channels];
        _shift = new float[_channels];
        _invStd = new float[_channels];
        _scale = new float[_channels];
        _meanDy = new double[_channels];
        _meanDyXhat = new double[_channels];
    }

    /// <inheritdoc/>
    public override void EnsureCapacity(int batch)
    {
        base.EnsureCapacity(batch);
        int partials = Chunks.Count(batch) * PartialStride;
        if (_partials.Length < partials)
        {
            _partials = new double[partials];
            _partials2 = new double[partials];
        }
    }

    /// <inheritdoc/>
    // x: [N, H, W, C] or [N, C] → x̂ = (x − μ)/√(σ² + ε), y = γ·x̂ + β
    // (μ, σ² of the batch over N·H·W rows in training, the moving ones at inference)
    public override Tensor Forward(Tensor x, bool training)
    {
        StartForward(x);
        _training = training;
        int chunks = Chunks.Count(x.Batch);
        if (training)
        {
            double rows = (double)x.Batch * _rowsPerSample;
            Pool.For(chunks, _sumChunk);
            SumInChunkOrder(_partials, chunks, _mean);
            for (int c = 0; c < _channels; c++)
            {
                _mean[c] /= rows;
            }
            Pool.For(chunks, _squareChunk);
            for (int c = 0; c < _channels; c++)
            {
                double v = 0;
                for (int k = 0; k < chunks; k++)
                {
                    v += _partials[k * PartialStride + c];
                }
                v /= rows;
                _shift[c] = (float)_mean[c];
                _invStd[c] = (float)(1 / Math.Sqrt(v + Epsilon));
                MovingMean[c] = Momentum * MovingMean[c] + (1 - Momentum) * (float)_mean[c];
                MovingVariance[c] = Momentum * MovingVariance[c] + (1 - Momentum) * (float)v;
            }
        }
        else
        {
            for (int c = 0; c < _channels; c++)
            {
                _shift[c] = MovingMean[c];
                _invStd[c] = (float)(1 / Math.Sqrt((double)MovingVariance[c] + Epsilon));
            }
        }
        ForwardChunks();
        return Y;
    }

    private void SumInChunkOrder(double[] partials, int chunks, double[] total)
    {
        Array.Clear(total);
        for (int k = 0; k < chunks; k++)
        {
            for (int c = 0; c < _channels; c++)
            {
                total[c] += partials[k * PartialStride + c];
            }
        }
    }

    // partials[chunk, c] = Σ x over the chunk's rows
    private void SumChunk(int chunk)
    {
        var (start, count) = Chunks.Range(chunk, X!.Batch);
        var sums = _partials.AsSpan(chunk * PartialStride, _channels);
        sums.Clear();
        Normalization.AddChannelSums(X.Samples(start, count), _channels, sums);
    }

    // partials[chunk, c] = Σ (x − μ)² over the chunk's rows
    private void SquareChunk(int chunk)
    {
        var (start, count) = Chunks.Range(chunk, X!.Batch);
        var sums = _partials.AsSpan(chunk * PartialStride, _channels);
        sums.Clear();
        Normalization.AddSquaredDeviations(X.Samples(start, count), _mean, _channels, sums);
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
        Normalization.Normalize(X!.Samples(start, count), _shift, _invStd, Gamma.Value, Beta.Value, _channels, Y!.Samples(start, count));
    }

    /// <inheritdoc/>
    // dy: [N, ..., C] → dβ += Σ dy, dγ += Σ dy·x̂;
    // training: dx = γ/σ·(dy − mean(dy) − x̂·mean(dy·x̂)); inference: dx = γ/σ·dy
    public override Tensor? Backward(Tensor dy)
    {
        StartBackward(dy);
        int chunks = Chunks.Count(dy.Batch);
        Pool.For(chunks, _gradientSumChunk);
        SumInChunkOrder(_partials, chunks, _sumDy);
        SumInChunkOrder(_partials2, chunks, _sumDyXhat);
        var dGamma = Gamma.Gradient;
        var dBeta = Beta.Gradient;
        for (int c = 0; c < _channels; c++)
        {
            dBeta[c] += (float)_sumDy[c];
            dGamma[c] += (float)_sumDyXhat[c];
        }
        if (!ComputeInputGradient)
        {
            return null;
        }
        // In inference mode the batch statistics are constants: dx = γ/σ·dy.
        double rows = (double)dy.Batch * _rowsPerSample;
        for (int c = 0; c < _channels; c++)
        {
            _scale[c] = Gamma.Value[c] * _invStd[c];
            _meanDy[c] = _training ? _sumDy[c] / rows : 0;
            _meanDyXhat[c] = _training ? _sumDyXhat[c] / rows : 0;
        }
        BackwardChunks();
        return Dx;
    }

    private void GradientSumChunk(int chunk)
    {
        var (start, count) = Chunks.Range(chunk, Dy!.Batch);
        var sums = _partials.AsSpan(chunk * PartialStride, _channels);
        var products = _partials2.AsSpan(chunk * PartialStride, _channels);
        sums.Clear();
        products.Clear();
        Normalization.AddGradientSums(Dy.Samples(start, count), X!.Samples(start, count), _shift, _invStd, _channels, sums, products);
    }

    /// <inheritdoc/>
    protected override void BackwardChunk(int chunk, int start, int count)
    {
        Normalization.Backward(Dy!.Samples(start, count), X!.Samples(start, count), _shift, _invStd, _scale, _meanDy, _meanDyXhat, RectifyGradient, _channels, Dx!.Samples(start, count));
    }

    /// <inheritdoc/>
    // Inference form on [N, C, ...]: γ·(x − moving mean)/√(moving variance + ε) + β (opset 9–13, no training_mode).
    public override string ExportOnnx(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var t = SaveOwnTensors();
        long[] dims = [InputShape.Channels];
        string scale = graph.AddInitializer($"{Name}.weight", dims, t[0]);
        string bias = graph.AddInitializer($"{Name}.bias", dims, t[1]);
        string mean = graph.AddInitializer($"{Name}.running_mean", dims, t[2]);
        string variance = graph.AddInitializer($"{Name}.running_var", dims, t[3]);
        // momentum changes nothing at inference; written so that an import gets this layer back as it was.
        return graph.AddNode("BatchNormalization", [input, scale, bias, mean, variance], Name, OnnxAttribute.Of("epsilon", Epsilon), OnnxAttribute.Of("momentum", Momentum));
    }
}
