using Convnet.Kernels;
using Convnet.Layers;

namespace Convnet.Optimizers;

/// <summary>
/// Updates parameters from their gradients; owns its per-parameter state. Each <see cref="Step"/>
/// first takes the rate from <see cref="Schedule"/> (when set), then clips the gradients by their
/// global norm (when <see cref="ClipNorm"/> is set), then applies the subclass's update rule, then
/// (when <see cref="EmaMomentum"/> is set) updates the moving average of the weights.
/// </summary>
public abstract class Optimizer
{
    private float[][]? _average;

    protected Optimizer(float learningRate, float? clipNorm = null, float? emaMomentum = null)
    {
        if (!(learningRate > 0) || float.IsInfinity(learningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "learningRate must be positive and finite.");
        }
        if (clipNorm is { } c && (!(c > 0) || float.IsInfinity(c)))
        {
            throw new ArgumentOutOfRangeException(nameof(clipNorm), clipNorm, "clipNorm must be positive and finite.");
        }
        if (emaMomentum is { } mu && !(mu >= 0 && mu < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(emaMomentum), emaMomentum, "emaMomentum must be in [0, 1).");
        }
        LearningRate = learningRate;
        ClipNorm = clipNorm;
        EmaMomentum = emaMomentum;
    }

    public abstract string Name { get; }

    /// <summary>The current learning rate; schedules and callbacks may change it between steps.</summary>
    public float LearningRate { get; set; }

    /// <summary>
    /// A per-step schedule (Keras's optimizer(learning_rate=schedule)): before step t (0-based)
    /// <see cref="LearningRate"/> becomes Schedule.Rate(t). Null keeps the rate as set.
    /// </summary>
    public LearningRateSchedule? Schedule { get; set; }

    /// <summary>
    /// When set, gradients are scaled by clipNorm / max(‖g‖, clipNorm) with ‖g‖ the global L2 norm
    /// over all parameters (Keras's global_clipnorm), summed in double in parameter order.
    /// </summary>
    public float? ClipNorm { get; }

    /// <summary>
    /// Keras's use_ema / ema_momentum: when set, after step t avg ← μₜ·avg + (1−μₜ)·w, and
    /// <see cref="FinalizeVariableValues"/> writes the averages into the weights, as Sequential.Fit
    /// does when training ends. Null keeps no average. Unlike Keras's constant μ, μₜ warms up as
    /// TensorFlow's ExponentialMovingAverage with num_updates does (see <see cref="EmaMomentumAt"/>),
    /// so a short run averages its recent weights instead of keeping a large share of the first ones
    /// (with μ = 0.999: 0.999^940 = 39% after 940 steps); μₜ reaches 0.999 at about step 9,000.
    /// </summary>
    public float? EmaMomentum { get; }

    /// <summary>
    /// The global L2 norm of the last step's gradients before clipping, when <see cref="ClipNorm"/>
    /// made the step compute it; null otherwise (it costs a pass over the gradients).
    /// </summary>
    public double? GradientNorm { get; private set; }

    /// <summary>Number of steps taken.</summary>
    public long Iterations { get; protected set; }

    public abstract IReadOnlyDictionary<string, string> Config { get; }

    public void Step(IReadOnlyList<Parameter> parameters)
    {
        if (Schedule is not null)
        {
            LearningRate = Schedule.Rate(Iterations);
        }
        if (ClipNorm is { } clip)
        {
            double sum = 0;
            // Indexed loops: foreach over the interface would box an enumerator on every step.
            for (int i = 0; i < parameters.Count; i++)
            {
                sum += OptimizerKernels.SumOfSquares(parameters[i].Gradient);
            }
            double norm = Math.Sqrt(sum);
            GradientNorm = norm;
            if (norm > clip)
            {
                float scale = (float)(clip / norm);
                for (int i = 0; i < parameters.Count; i++)
                {
                    OptimizerKernels.Scale(parameters[i].Gradient, scale);
                }
            }
        }
        Iterations++;
        Update(parameters);
        if (EmaMomentum is { } momentum)
        {
            _average ??= CreateState(parameters);
            float mu = EmaMomentumAt(momentum, Iterations);
            for (int i = 0; i < parameters.Count; i++)
            {
                OptimizerKernels.MovingAverage(parameters[i].Value, mu, _average[i]);
            }
        }
    }

    /// <summary>
    /// The momentum of the moving average's update after step <paramref name="step"/> (1-based):
    /// min(μ, (t − 1)/(t + 8)), i.e. 0 after the first step (avg = w), 0.1 after the second, 0.5
    /// after the tenth (TensorFlow's min(decay, (1 + n)/(10 + n))).
    /// </summary>
    public static float EmaMomentumAt(float momentum, long step)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        return MathF.Min(momentum, (step - 1f) / (step + 8f));
    }

    /// <summary>
    /// Keras's finalize_variable_values: with <see cref="EmaMomentum"/> set and at least one step
    /// taken, copies the moving averages into the weights of <paramref name="parameters"/> (the list
    /// the steps saw); otherwise does nothing.
    /// </summary>
    public void FinalizeVariableValues(IReadOnlyList<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (_average is null)
        {
            return;
        }
        if (parameters.Count != _average.Length)
        {
            throw new ArgumentException($"The optimizer averaged {_average.Length} parameters, not {parameters.Count}.", nameof(parameters));
        }
        for (int i = 0; i < parameters.Count; i++)
        {
            _average[i].CopyTo(parameters[i].Value);
        }
    }

    /// <summary>Applies the update rule; <see cref="Iterations"/> already counts this step.</summary>
    protected abstract void Update(IReadOnlyList<Parameter> parameters);

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
