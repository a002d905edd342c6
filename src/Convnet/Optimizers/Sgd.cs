using System.Globalization;
using Convnet.Kernels;
using Convnet.Layers;

namespace Convnet.Optimizers;

/// <summary>Stochastic gradient descent with (heavy-ball) momentum, as Keras's SGD.</summary>
public sealed class Sgd : Optimizer
{
    private readonly int _velocity;

    /// <summary>SGD: velocity ← μ·velocity − lr·g, w ← w + velocity (plain w ← w − lr·g when μ = 0).</summary>
    /// <param name="learningRate">Step size lr; positive and finite; Keras's default 0.01.</param>
    /// <param name="momentum">Momentum μ, in [0, 1); 0 for none.</param>
    /// <param name="clipNorm">See <see cref="Optimizer.ClipNorm"/>; null for no clipping.</param>
    /// <param name="emaMomentum">See <see cref="Optimizer.EmaMomentum"/>; null for no moving average.</param>
    /// <exception cref="ArgumentOutOfRangeException">A setting outside its range.</exception>
    public Sgd(float learningRate = 0.01f, float momentum = 0f, float? clipNorm = null, float? emaMomentum = null)
        : base(learningRate, clipNorm, emaMomentum)
    {
        if (!(momentum >= 0 && momentum < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must be in [0, 1).");
        }
        Momentum = momentum;
        _velocity = AddSlot("momentum");
    }

    /// <summary>Momentum μ; 0 for none.</summary>
    public float Momentum { get; }
    /// <inheritdoc/>
    public override string Name => "sgd";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>
    {
        ["learning_rate"] = LearningRate.ToString("R", CultureInfo.InvariantCulture),
        ["momentum"] = Momentum.ToString("R", CultureInfo.InvariantCulture),
    };

    private float[][] _velocityValues = [];

    /// <inheritdoc/>
    protected override void BeginUpdate(IReadOnlyList<Parameter> parameters) => _velocityValues = Slot(_velocity, parameters);

    /// <inheritdoc/>
    protected override void Update(int index, Parameter parameter, int start, int count) =>
        OptimizerKernels.SgdMomentum(parameter.Value.Slice(start, count), parameter.Gradient.Slice(start, count), _velocityValues[index].AsSpan(start, count), LearningRate, Momentum);
}
