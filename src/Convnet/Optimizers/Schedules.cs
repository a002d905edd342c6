namespace Convnet.Optimizers;

/// <summary>Keras's ExponentialDecay: rate = initial · decayRate^(step / decaySteps), the exponent floored when staircase.</summary>
public sealed class ExponentialDecay : LearningRateSchedule
{
    /// <summary>A schedule decaying by <paramref name="decayRate"/> every <paramref name="decaySteps"/> steps.</summary>
    /// <param name="initialLearningRate">The rate at step 0; positive and finite.</param>
    /// <param name="decaySteps">Steps over which the rate is multiplied by <paramref name="decayRate"/> once; at least 1 (batches per epoch for a per-epoch decay).</param>
    /// <param name="decayRate">The factor per <paramref name="decaySteps"/>; positive and finite (below 1 to decay).</param>
    /// <param name="staircase">Decay in whole steps of <paramref name="decaySteps"/> rather than smoothly.</param>
    /// <exception cref="ArgumentOutOfRangeException">A setting outside its range.</exception>
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

    /// <summary>The rate at step 0.</summary>
    public float InitialLearningRate { get; }
    /// <summary>Steps per factor of <see cref="DecayRate"/>.</summary>
    public long DecaySteps { get; }
    /// <summary>The factor applied per <see cref="DecaySteps"/> steps.</summary>
    public float DecayRate { get; }
    /// <summary>Whether the exponent step / decaySteps is floored (the rate changes every <see cref="DecaySteps"/> steps only).</summary>
    public bool Staircase { get; }

    /// <inheritdoc/>
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
    /// <summary>A schedule falling along half a cosine from <paramref name="initialLearningRate"/> to α times it at <paramref name="decaySteps"/>.</summary>
    /// <param name="initialLearningRate">The rate at step 0; positive and finite.</param>
    /// <param name="decaySteps">Steps of the decay (the rate stays at its floor after them); at least 1.</param>
    /// <param name="alpha">The floor as a fraction of <paramref name="initialLearningRate"/>, in [0, 1].</param>
    /// <exception cref="ArgumentOutOfRangeException">A setting outside its range.</exception>
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

    /// <summary>The rate at step 0.</summary>
    public float InitialLearningRate { get; }
    /// <summary>Steps of the decay; the rate is held at its floor after them.</summary>
    public long DecaySteps { get; }
    /// <summary>The floor as a fraction α of <see cref="InitialLearningRate"/>.</summary>
    public float Alpha { get; }

    /// <inheritdoc/>
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
    /// <summary>A one-cycle schedule; the defaults are PyTorch's OneCycleLR's.</summary>
    /// <param name="maxLearningRate">The peak rate; positive and finite.</param>
    /// <param name="totalSteps">Steps of the whole cycle (epochs × batches per epoch); at least 2.</param>
    /// <param name="pctStart">Fraction of <paramref name="totalSteps"/> spent rising, in (0, 1); default 0.3.</param>
    /// <param name="divFactor">The starting rate is maxLearningRate / divFactor; at least 1; default 25.</param>
    /// <param name="finalDivFactor">The final rate is the starting rate / finalDivFactor; at least 1; default 1e4.</param>
    /// <exception cref="ArgumentOutOfRangeException">A setting outside its range.</exception>
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

    /// <summary>The peak rate, reached at step max(1, pctStart·totalSteps − 1).</summary>
    public float MaxLearningRate { get; }
    /// <summary>Steps of the whole cycle; the rate is held at its final value from step totalSteps − 1 on.</summary>
    public long TotalSteps { get; }
    /// <summary>Fraction of <see cref="TotalSteps"/> spent rising.</summary>
    public float PctStart { get; }
    /// <summary>The starting rate is <see cref="MaxLearningRate"/> / DivFactor.</summary>
    public float DivFactor { get; }
    /// <summary>The final rate is the starting rate / FinalDivFactor.</summary>
    public float FinalDivFactor { get; }

    /// <inheritdoc/>
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
