using System.Globalization;
using Convnet.Runtime;

namespace Convnet.Tuning;

/// <summary>
/// How a search picks its trials: the first rung from the space alone, each later rung (if any) from
/// the results of the one before. Every choice depends only on the space, the seed and results, so
/// a search run again (or resumed) makes the same trials.
/// </summary>
public abstract class SearchStrategy
{
    /// <summary>The name the command line takes (<c>grid</c>, <c>random</c>, <c>halving</c>).</summary>
    public abstract string Name { get; }

    /// <summary>The strategy and its settings, as a search directory records them.</summary>
    public abstract string Describe();

    /// <summary>The first rung's trials.</summary>
    /// <exception cref="ArgumentException">The space does not suit the strategy (e.g. a grid over a range of real numbers).</exception>
    public abstract Rung First(SearchSpace space, ulong seed);

    /// <summary>The rung after <paramref name="previous"/>, from its results best first; null when the search is complete.</summary>
    public virtual Rung? Next(Rung previous, IReadOnlyList<Trial> bestFirst) => null;

    /// <summary>
    /// <paramref name="count"/> distinct points drawn from the space (fewer when the space has fewer):
    /// point k from a generator keyed by (seed, k, attempt), redrawn while it repeats an earlier point.
    /// </summary>
    public static IReadOnlyList<Trial> Sample(SearchSpace space, ulong seed, int count)
    {
        ArgumentNullException.ThrowIfNull(space);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (space.GridSize is { } size && size < count)
        {
            count = (int)size;
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var trials = new List<Trial>(count);
        for (int k = 0; k < count; k++)
        {
            string[] point = [];
            for (int attempt = 0; attempt < 10_000; attempt++)
            {
                var rng = Rng.Derive(seed, ((ulong)k << 20) + (ulong)attempt);
                point = space.Sample(ref rng);
                if (seen.Add(string.Join('\u001f', point)))
                {
                    break;
                }
            }
            trials.Add(new Trial(k, point));
        }
        return trials;
    }
}

/// <summary>Every point of the grid over the space (scikit-learn's GridSearchCV), the first parameter varying slowest; the first <see cref="MaxTrials"/> when set.</summary>
public sealed class GridSearch(int? maxTrials = null) : SearchStrategy
{
    /// <summary>The most trials to make, or null for the whole grid.</summary>
    public int? MaxTrials { get; } = maxTrials is < 1 ? throw new ArgumentOutOfRangeException(nameof(maxTrials), maxTrials, "At least 1.") : maxTrials;

    /// <inheritdoc/>
    public override string Name => "grid";

    /// <inheritdoc/>
    public override string Describe() => "grid";

    /// <inheritdoc/>
    public override Rung First(SearchSpace space, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(space);
        if (space.Parameters.FirstOrDefault(p => p.Domain.Values is null) is { } range)
        {
            throw new ArgumentException($"\"{range.Name}\" is a range of real numbers, which a grid cannot list: give a list of values, or use random search or halving");
        }
        var points = space.Grid();
        if (MaxTrials is { } max)
        {
            points = points.Take(max);
        }
        return new Rung(0, null, [.. points.Select((p, k) => new Trial(k, p))]);
    }
}

/// <summary><see cref="Trials"/> points drawn from the space (KerasTuner's RandomSearch), trial k keyed by (seed, k) alone, so more trials extend a search.</summary>
public sealed class RandomSearch(int trials) : SearchStrategy
{
    /// <summary>The number of points.</summary>
    public int Trials { get; } = trials < 1 ? throw new ArgumentOutOfRangeException(nameof(trials), trials, "At least 1.") : trials;

    /// <inheritdoc/>
    public override string Name => "random";

    /// <inheritdoc/>
    public override string Describe() => "random";

    /// <inheritdoc/>
    public override Rung First(SearchSpace space, ulong seed) => new(0, null, Sample(space, seed, Trials));
}

/// <summary>
/// Successive halving (Jamieson and Talwalkar 2016; one bracket of Hyperband, Li et al. 2017):
/// <see cref="Trials"/> random points train a few epochs, the best 1/<see cref="Factor"/> of them
/// train <see cref="Factor"/> times longer, and so on up to <see cref="MaxEpochs"/>. Each rung trains
/// its trials afresh for its budget (the schedule spans the rung's epochs).
/// </summary>
public sealed class SuccessiveHalving : SearchStrategy
{
    /// <param name="trials">Points in the first rung, at least 1.</param>
    /// <param name="maxEpochs">The last rung's epochs, at least 1.</param>
    /// <param name="factor">η: each rung keeps the best 1/η and trains them η times longer; at least 2.</param>
    /// <param name="minEpochs">The first rung's least epochs, at least 1.</param>
    public SuccessiveHalving(int trials, int maxEpochs, int factor = 3, int minEpochs = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(trials, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEpochs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(factor, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(minEpochs, 1);
        (Trials, MaxEpochs, Factor, MinEpochs) = (trials, maxEpochs, factor, minEpochs);
        // s + 1 rungs: s no more than the halvings the trials allow, nor the ones the epochs allow.
        int s = 0;
        while (Pow(factor, s + 1) <= trials && maxEpochs / Pow(factor, s + 1) >= minEpochs)
        {
            s++;
        }
        var schedule = new List<(int Trials, int Epochs)>();
        int n = trials;
        for (int i = 0; i <= s; i++)
        {
            int epochs = i == s ? maxEpochs : Math.Max(minEpochs, (int)Math.Round(maxEpochs / Pow(factor, s - i), MidpointRounding.AwayFromZero));
            schedule.Add((n, epochs));
            n = Math.Max(1, n / factor);
        }
        Schedule = schedule;
    }

    private static double Pow(int factor, int power) => Math.Pow(factor, power);

    /// <summary>Points in the first rung.</summary>
    public int Trials { get; }
    /// <summary>Epochs of the last rung (and of the refit).</summary>
    public int MaxEpochs { get; }
    /// <summary>η.</summary>
    public int Factor { get; }
    /// <summary>The first rung's least epochs.</summary>
    public int MinEpochs { get; }

    /// <summary>Each rung's trials and epochs, e.g. 12 trials, η 3, 10 epochs: (12, 1), (4, 3), (1, 10).</summary>
    public IReadOnlyList<(int Trials, int Epochs)> Schedule { get; }

    /// <inheritdoc/>
    public override string Name => "halving";

    /// <inheritdoc/>
    public override string Describe() => string.Create(CultureInfo.InvariantCulture, $"halving trials={Trials} max_epochs={MaxEpochs} factor={Factor} min_epochs={MinEpochs}");

    /// <inheritdoc/>
    public override Rung First(SearchSpace space, ulong seed)
    {
        var trials = Sample(space, seed, Trials);
        return new Rung(0, Schedule[0].Epochs, trials);
    }

    /// <inheritdoc/>
    public override Rung? Next(Rung previous, IReadOnlyList<Trial> bestFirst)
    {
        ArgumentNullException.ThrowIfNull(previous);
        ArgumentNullException.ThrowIfNull(bestFirst);
        int next = previous.Index + 1;
        if (next >= Schedule.Count)
        {
            return null;
        }
        int keep = Math.Min(bestFirst.Count, Math.Max(1, previous.Trials.Count / Factor));
        if (keep == 0)
        {
            return null;
        }
        return new Rung(next, Schedule[next].Epochs, [.. bestFirst.Take(keep).OrderBy(t => t.Index)]);
    }
}
