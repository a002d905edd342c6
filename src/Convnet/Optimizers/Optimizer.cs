using Convnet.Layers;

namespace Convnet.Optimizers;

/// <summary>Updates parameters from their gradients; owns its per-parameter state.</summary>
public abstract class Optimizer
{
    protected Optimizer(float learningRate)
    {
        if (!(learningRate > 0) || float.IsInfinity(learningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "learningRate must be positive and finite.");
        }
        LearningRate = learningRate;
    }

    public abstract string Name { get; }

    /// <summary>The current learning rate; schedules may change it between steps.</summary>
    public float LearningRate { get; set; }

    /// <summary>Number of steps taken.</summary>
    public long Iterations { get; protected set; }

    public abstract IReadOnlyDictionary<string, string> Config { get; }

    public abstract void Step(IReadOnlyList<Parameter> parameters);

    protected static float[][] CreateState(IReadOnlyList<Parameter> parameters)
    {
        var state = new float[parameters.Count][];
        for (int i = 0; i < state.Length; i++)
        {
            state[i] = new float[parameters[i].Length];
        }
        return state;
    }
}
