namespace Convnet.Optimizers;

/// <summary>Keras's ExponentialDecay: rate = initial · decayRate^(step / decaySteps), the exponent floored when staircase.</summary>
public sealed class ExponentialDecay : LearningRateSchedule
{
    public ExponentialDecay(float initialLearningRate, long decaySteps, float decayRate, bool staircase = false)
    {
        if (!(initialLearningRate > 0) || float.IsInfinity(initialLearningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(initialLearningRate), initialLearningRate, "initialLearningRate must be positive and finite.");
        }
        if (decaySteps < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(decaySteps), decaySteps, "decaySteps must be at least 1.");
        }
        if (!(decayRate > 0) || float.IsInfinity(decayRate))
        {
            throw new ArgumentOutOfRangeException(nameof(decayRate), decayRate, "decayRate must be positive and finite.");
        }
        (InitialLearningRate, DecaySteps, DecayRate, Staircase) = (initialLearningRate, decaySteps, decayRate, staircase);
    }

    public float InitialLearningRate { get; }
    public long DecaySteps { get; }
    public float DecayRate { get; }
    public bool Staircase { get; }

    public override float Rate(long step)
    {
        double p = (double)step / DecaySteps;
        return (float)(InitialLearningRate * Math.Pow(DecayRate, Staircase ? Math.Floor(p) : p));
    }
}

/// <summary>
/// Keras's CosineDecay (Loshchilov and Hutter's SGDR without restarts):
/// rate = initial · ((1 − α)·½(1 + cos(π·min(step, decaySteps)/decaySteps)) + α).
/// </summary>
public sealed class CosineDecay : LearningRateSchedule
{
    public CosineDecay(float initialLearningRate, long decaySteps, float alpha = 0)
    {
        if (!(initialLearningRate > 0) || float.IsInfinity(initialLearningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(initialLearningRate), initialLearningRate, "initialLearningRate must be positive and finite.");
        }
        if (decaySteps < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(decaySteps), decaySteps, "decaySteps must be at least 1.");
        }
        if (!(alpha >= 0 && alpha <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be in [0, 1].");
        }
        (InitialLearningRate, DecaySteps, Alpha) = (initialLearningRate, decaySteps, alpha);
    }

    public float InitialLearningRate { get; }
    public long DecaySteps { get; }
    public float Alpha { get; }

    public override float Rate(long step)
    {
        double cosine = 0.5 * (1 + Math.Cos(Math.PI * Math.Min(step, DecaySteps) / DecaySteps));
        return (float)(InitialLearningRate * ((1 - Alpha) * cosine + Alpha));
    }
}

/// <summary>
/// The one-cycle policy (Smith and Topin, 2019) as PyTorch's OneCycleLR with cosine annealing, per
/// optimizer step: from maxLr/divFactor up to maxLr over the first pctStart of totalSteps, then down to
/// maxLr/(divFactor·finalDivFactor) at the last step (and held there after it). Set totalSteps to
/// epochs × batches per epoch. Momentum is not cycled.
/// </summary>
public sealed class OneCycle : LearningRateSchedule
{
    public OneCycle(float maxLearningRate, long totalSteps, float pctStart = 0.3f, float divFactor = 25, float finalDivFactor = 1e4f)
    {
        if (!(maxLearningRate > 0) || float.IsInfinity(maxLearningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(maxLearningRate), maxLearningRate, "maxLearningRate must be positive and finite.");
        }
        if (totalSteps < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "totalSteps must be at least 2.");
        }
        if (!(pctStart > 0 && pctStart < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(pctStart), pctStart, "pctStart must be in (0, 1).");
        }
        if (!(divFactor >= 1) || !(finalDivFactor >= 1))
        {
            throw new ArgumentOutOfRangeException(divFactor >= 1 ? nameof(finalDivFactor) : nameof(divFactor), divFactor >= 1 ? finalDivFactor : divFactor, "division factors must be at least 1.");
        }
        (MaxLearningRate, TotalSteps, PctStart, DivFactor, FinalDivFactor) = (maxLearningRate, totalSteps, pctStart, divFactor, finalDivFactor);
    }

    public float MaxLearningRate { get; }
    public long TotalSteps { get; }
    public float PctStart { get; }
    public float DivFactor { get; }
    public float FinalDivFactor { get; }

    public override float Rate(long step)
    {
        double initial = MaxLearningRate / (double)DivFactor;
        double final = initial / FinalDivFactor;
        double peak = Math.Max(1, (double)PctStart * TotalSteps - 1);
        double last = TotalSteps - 1;
        double s = Math.Min(step, last);
        return s <= peak
            ? (float)Anneal(initial, MaxLearningRate, s / peak)
            : (float)Anneal(MaxLearningRate, final, (s - peak) / (last - peak));
    }

    // Cosine from start (pct 0) to end (pct 1).
    private static double Anneal(double start, double end, double pct) => end + (start - end) / 2 * (1 + Math.Cos(Math.PI * pct));
}
