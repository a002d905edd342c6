using System.Globalization;

namespace Convnet.Optimizers;

/// <summary>
/// How a run's learning rate moves, as the command line's --lr-schedule names it: before the run's
/// length is known. <see cref="PerEpoch"/> and <see cref="PerStep"/> make it concrete once the
/// initial rate, the epochs and the steps are: a per-epoch <see cref="LearningRateSchedule"/> keyed
/// by the 0-based epoch (for Training.LearningRateScheduler), or a per-step one for
/// <see cref="Optimizer.Schedule"/>.
/// </summary>
public abstract record RateSchedule
{
    /// <summary>Exponential's rate per epoch when the text leaves it out.</summary>
    public const float DefaultExponentialRate = 0.95f;

    private protected RateSchedule()
    {
    }

    /// <summary>The rate as set, for every step.</summary>
    public static RateSchedule Constant { get; } = new ConstantSchedule();

    /// <summary>Per epoch: lr·½(1 + cos(π·epoch/epochs)), falling towards 0 (Keras's CosineDecay over the epochs).</summary>
    public static RateSchedule Cosine { get; } = new CosineSchedule();

    /// <summary>Per step: the one-cycle policy from lr/25 up to lr over the first 30% of the steps, then down to lr/250000 (<see cref="OneCycle"/>).</summary>
    public static RateSchedule OneCycle { get; } = new OneCycleSchedule();

    /// <summary>Per epoch: lr·rate^epoch (Keras's ExponentialDecay with one decay step per epoch).</summary>
    /// <param name="rate">In (0, 1].</param>
    public static RateSchedule Exponential(float rate = DefaultExponentialRate) => new ExponentialSchedule(rate);

    /// <summary>The schedule per epoch (0-based) for a run of <paramref name="epochs"/> from <paramref name="learningRate"/>, or null when it is not one.</summary>
    public virtual LearningRateSchedule? PerEpoch(float learningRate, int epochs) => null;

    /// <summary>The schedule per optimizer step for a run of <paramref name="totalSteps"/>, or null when it is not one.</summary>
    public virtual LearningRateSchedule? PerStep(float learningRate, long totalSteps) => null;

    /// <summary>
    /// "constant", "cosine", "exponential" (rate <see cref="DefaultExponentialRate"/>),
    /// "exponential:RATE" or "onecycle".
    /// </summary>
    /// <exception cref="FormatException">Any other text, or a rate outside (0, 1]; the message names the text.</exception>
    public static RateSchedule Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Split(':', 2);
        if (parts[0] == "exponential")
        {
            if (parts.Length == 1)
            {
                return Exponential();
            }
            if (float.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out float rate) && rate > 0 && rate <= 1)
            {
                return Exponential(rate);
            }
            throw new FormatException($"schedule '{text}': the exponential rate must be a number in (0, 1]");
        }
        return parts switch
        {
            ["constant"] => Constant,
            ["cosine"] => Cosine,
            ["onecycle"] => OneCycle,
            _ => throw new FormatException($"schedule must be constant, cosine, exponential[:RATE] or onecycle, got '{text}'"),
        };
    }

    /// <summary>The text <see cref="Parse"/> reads back.</summary>
    public abstract override string ToString();

    private sealed record ConstantSchedule : RateSchedule
    {
        public override string ToString() => "constant";
    }

    private sealed record CosineSchedule : RateSchedule
    {
        public override LearningRateSchedule PerEpoch(float learningRate, int epochs) => new CosineDecay(learningRate, epochs);

        public override string ToString() => "cosine";
    }

    private sealed record OneCycleSchedule : RateSchedule
    {
        public override LearningRateSchedule PerStep(float learningRate, long totalSteps) => new Optimizers.OneCycle(learningRate, totalSteps);

        public override string ToString() => "onecycle";
    }

    private sealed record ExponentialSchedule : RateSchedule
    {
        public ExponentialSchedule(float rate)
        {
            if (!(rate > 0 && rate <= 1))
            {
                throw new ArgumentOutOfRangeException(nameof(rate), rate, "rate must be in (0, 1].");
            }
            Rate = rate;
        }

        public float Rate { get; }

        public override LearningRateSchedule PerEpoch(float learningRate, int epochs) => new ExponentialDecay(learningRate, 1, Rate);

        public override string ToString() => "exponential:" + Rate.ToString(CultureInfo.InvariantCulture);
    }
}
