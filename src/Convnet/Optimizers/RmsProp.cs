using System.Globalization;
using Convnet.Kernels;
using Convnet.Layers;

namespace Convnet.Optimizers;

/// <summary>
/// RMSprop (Hinton, lecture 6e) as Keras's RMSprop, uncentered: v ← ρ·v + (1−ρ)·g²,
/// mom ← μ·mom + lr·g/√(v + ε), w ← w − mom; defaults lr 1e-3, ρ 0.9, μ 0, ε 1e-7.
/// </summary>
public sealed class RmsProp : Optimizer
{
    private readonly int _v, _momentum;

    /// <summary>RMSprop with the update rule of the class summary.</summary>
    /// <param name="learningRate">Step size lr; positive and finite.</param>
    /// <param name="rho">Decay ρ of the squared-gradient average, in [0, 1).</param>
    /// <param name="momentum">Momentum μ, in [0, 1); 0 for none.</param>
    /// <param name="epsilon">ε added under the root for stability; positive.</param>
    /// <param name="clipNorm">See <see cref="Optimizer.ClipNorm"/>; null for no clipping.</param>
    /// <param name="emaMomentum">See <see cref="Optimizer.EmaMomentum"/>; null for no moving average.</param>
    /// <exception cref="ArgumentOutOfRangeException">A setting outside its range.</exception>
    public RmsProp(float learningRate = 1e-3f, float rho = 0.9f, float momentum = 0f, float epsilon = 1e-7f, float? clipNorm = null, float? emaMomentum = null)
        : base(learningRate, clipNorm, emaMomentum)
    {
        if (!(rho >= 0 && rho < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(rho), rho, "rho must be in [0, 1).");
        }
        if (!(momentum >= 0 && momentum < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must be in [0, 1).");
        }
        if (!(epsilon > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "epsilon must be positive.");
        }
        Rho = rho;
        Momentum = momentum;
        Epsilon = epsilon;
        _v = AddSlot("velocity");
        _momentum = AddSlot("momentum");
    }

    /// <summary>Decay ρ of the squared-gradient average.</summary>
    public float Rho { get; }
    /// <summary>Momentum μ; 0 for none.</summary>
    public float Momentum { get; }
    /// <summary>ε added under the root for numerical stability.</summary>
    public float Epsilon { get; }
    /// <inheritdoc/>
    public override string Name => "rmsprop";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>
    {
        ["learning_rate"] = LearningRate.ToString("R", CultureInfo.InvariantCulture),
        ["rho"] = Rho.ToString("R", CultureInfo.InvariantCulture),
        ["momentum"] = Momentum.ToString("R", CultureInfo.InvariantCulture),
        ["epsilon"] = Epsilon.ToString("R", CultureInfo.InvariantCulture),
    };

    private float[][] _vValues = [], _momentumValues = [];

    /// <inheritdoc/>
    protected override void BeginUpdate(IReadOnlyList<Parameter> parameters)
    {
        _vValues = Slot(_v, parameters);
        _momentumValues = Slot(_momentum, parameters);
    }

    /// <inheritdoc/>
    protected override void Update(int index, Parameter parameter, int start, int count) =>
        OptimizerKernels.RmsProp(parameter.Value.Slice(start, count), parameter.Gradient.Slice(start, count), _vValues[index].AsSpan(start, count), _momentumValues[index].AsSpan(start, count), LearningRate, Rho, Momentum, Epsilon);
}
