using Convnet.Models;

namespace Convnet.Tuning;

/// <summary>What one model of a trial gave on its validation data (one fold, or the validation split).</summary>
/// <param name="ValidationAccuracy">Of the weights the run ends with (the moving average with ema; the best epoch's with early-stopping).</param>
/// <param name="ValidationLoss">Of the same weights.</param>
/// <param name="Epochs">Epochs trained (fewer than asked when early-stopping stopped it).</param>
/// <param name="Seconds">Wall-clock training time.</param>
/// <param name="History">Per-epoch logs.</param>
public sealed record FoldResult(double ValidationAccuracy, double ValidationLoss, int Epochs, double Seconds, IReadOnlyList<EpochLog> History);

/// <summary>What the metric that ranks trials is.</summary>
public enum TuneMetric
{
    /// <summary>The mean validation accuracy over the folds, higher is better.</summary>
    ValidationAccuracy,
    /// <summary>The mean validation loss over the folds, lower is better.</summary>
    ValidationLoss,
}

/// <summary>A finished trial of one rung: its point, seed, budget and each fold's result, or why it failed.</summary>
/// <param name="Trial">The point.</param>
/// <param name="Rung">The rung (0 for grid and random search).</param>
/// <param name="Epochs">The epochs the trial's settings asked for.</param>
/// <param name="Seed">The trial's seed (<see cref="Trial.SeedOf"/>).</param>
/// <param name="Folds">Each fold's result in fold order; empty when the trial failed.</param>
/// <param name="Failure">Why the trial could not train (e.g. the loss diverged, or the architecture does not fit the images), or null.</param>
public sealed record TrialResult(Trial Trial, int Rung, int Epochs, ulong Seed, IReadOnlyList<FoldResult> Folds, string? Failure = null)
{
    /// <summary>Whether it trained.</summary>
    public bool Succeeded => Failure is null && Folds.Count > 0;

    /// <summary>Mean validation accuracy over the folds (NaN when failed).</summary>
    public double MeanAccuracy => Mean(f => f.ValidationAccuracy);
    /// <summary>Standard deviation (population, as scikit-learn's cv_results_) of the validation accuracy over the folds.</summary>
    public double StdAccuracy => Std(f => f.ValidationAccuracy);
    /// <summary>Mean validation loss over the folds (NaN when failed).</summary>
    public double MeanLoss => Mean(f => f.ValidationLoss);
    /// <summary>Standard deviation of the validation loss over the folds.</summary>
    public double StdLoss => Std(f => f.ValidationLoss);
    /// <summary>Training seconds of all folds.</summary>
    public double Seconds => Folds.Sum(f => f.Seconds);
    /// <summary>Epochs trained, averaged over the folds (the budget unless early-stopping stopped sooner).</summary>
    public double EpochsTrained => Folds.Count == 0 ? 0 : Folds.Average(f => f.Epochs);

    /// <summary>The metric's value (NaN when failed).</summary>
    public double Score(TuneMetric metric) => metric == TuneMetric.ValidationAccuracy ? MeanAccuracy : MeanLoss;

    private double Mean(Func<FoldResult, double> value) => Succeeded ? Folds.Average(value) : double.NaN;

    private double Std(Func<FoldResult, double> value)
    {
        if (!Succeeded)
        {
            return double.NaN;
        }
        double mean = Mean(value);
        return Math.Sqrt(Folds.Sum(f => (value(f) - mean) * (value(f) - mean)) / Folds.Count);
    }

    /// <summary>
    /// Orders results best first: the higher rung (more epochs) first, then the metric (NaN, a failed trial,
    /// last), then the trial number, so that ties never depend on timing.
    /// </summary>
    public static IReadOnlyList<TrialResult> Rank(IEnumerable<TrialResult> results, TuneMetric metric)
    {
        ArgumentNullException.ThrowIfNull(results);
        double Key(TrialResult r)
        {
            double s = r.Score(metric);
            return double.IsNaN(s) ? double.PositiveInfinity : metric == TuneMetric.ValidationAccuracy ? -s : s;
        }
        return [.. results.OrderByDescending(r => r.Rung).ThenBy(Key).ThenBy(r => r.Trial.Index)];
    }
}
