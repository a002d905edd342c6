using System.Globalization;
using Convnet.Kernels;
using Convnet.Layers;

namespace Convnet.Optimizers;

/// <summary>Stochastic gradient descent with (heavy-ball) momentum, as Keras's SGD.</summary>
public sealed class Sgd : Optimizer
{
    private readonly int _velocity;

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

    public float Momentum { get; }
    public override string Name => "sgd";

    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>
    {
        ["learning_rate"] = LearningRate.ToString("R", CultureInfo.InvariantCulture),
        ["momentum"] = Momentum.ToString("R", CultureInfo.InvariantCulture),
    };

    protected override void Update(IReadOnlyList<Parameter> parameters)
    {
        var velocity = Slot(_velocity, parameters);
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            OptimizerKernels.SgdMomentum(p.Value, p.Gradient, velocity[i], LearningRate, Momentum);
        }
    }
}
