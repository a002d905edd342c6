using Convnet.Models;

namespace Convnet.Training;

/// <summary>
/// Keras's ReduceLROnPlateau: when <see cref="Monitor"/> has not improved by more than minDelta for
/// <c>patience</c> epochs, rate ← max(rate·factor, minLr) and the count restarts. Epochs where the
/// monitored value is NaN (e.g. no validation data) are ignored.
/// </summary>
public sealed class ReduceLROnPlateau : Callback, IStatefulCallback
{
    private double _best;
    private int _wait;

    /// <summary>A plateau rule on <paramref name="monitor"/>, with Keras's defaults.</summary>
    /// <param name="monitor">"loss", "accuracy", "val_loss" (default) or "val_accuracy"; accuracies are maximised, losses minimised.</param>
    /// <param name="factor">The rate's multiplier at a plateau, in (0, 1); default 0.1.</param>
    /// <param name="patience">Epochs without improvement before the rate is cut; default 10 (0 cuts after every epoch that does not improve).</param>
    /// <param name="minLr">The rate is never cut below this; non-negative; default 0.</param>
    /// <param name="minDelta">The change the monitored value must exceed to count as an improvement; default 1e-4.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="factor"/>, <paramref name="patience"/> or <paramref name="minLr"/> outside its range.</exception>
    /// <exception cref="ArgumentException"><paramref name="monitor"/> is not one of the four names.</exception>
    public ReduceLROnPlateau(string monitor = "val_loss", float factor = 0.1f, int patience = 10, float minLr = 0, double minDelta = 1e-4)
    {
        if (!(factor > 0 && factor < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(factor), factor, "factor must be in (0, 1).");
        }
        if (patience < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(patience), patience, "patience must be non-negative.");
        }
        if (!(minLr >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(minLr), minLr, "minLr must be non-negative.");
        }
        MonitorName = CheckMonitor(monitor);
        (Factor, Patience, MinLr, MinDelta) = (factor, patience, minLr, minDelta);
        OnTrainBegin();
    }

    /// <summary>The monitored value: "loss", "accuracy", "val_loss" or "val_accuracy".</summary>
    public string MonitorName { get; }
    /// <summary>The rate's multiplier at a plateau, in (0, 1).</summary>
    public float Factor { get; }
    /// <summary>Epochs without improvement before the rate is cut.</summary>
    public int Patience { get; }
    /// <summary>The floor of the rate.</summary>
    public float MinLr { get; }
    /// <summary>The change the monitored value must exceed to count as an improvement.</summary>
    public double MinDelta { get; }

    /// <summary>Forgets the best value and the wait count of any earlier Fit.</summary>
    public override void OnTrainBegin()
    {
        _best = Maximize(MonitorName) ? double.NegativeInfinity : double.PositiveInfinity;
        _wait = 0;
    }

    /// <summary>Keeps an improved value, or counts one more epoch without improvement and cuts the optimizer's rate after <see cref="Patience"/> of them.</summary>
    /// <param name="log">The epoch's log; a NaN monitored value is skipped.</param>
    /// <exception cref="InvalidOperationException">The rate is to be cut but the model is not compiled.</exception>
    public override void OnEpochEnd(EpochLog log)
    {
        double current = Monitor(log, MonitorName);
        if (double.IsNaN(current))
        {
            return;
        }
        bool better = Maximize(MonitorName) ? current > _best + MinDelta : current < _best - MinDelta;
        if (better)
        {
            _best = current;
            _wait = 0;
            return;
        }
        if (++_wait >= Patience)
        {
            var optimizer = RequireModel().Optimizer ?? throw new InvalidOperationException("Compile the model first.");
            if (optimizer.LearningRate > MinLr)
            {
                optimizer.LearningRate = Math.Max(optimizer.LearningRate * Factor, MinLr);
            }
            _wait = 0;
        }
    }

    /// <inheritdoc/>
    public void SaveState(CallbackState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.Set("best", _best);
        state.Set("wait", _wait);
    }

    /// <inheritdoc/>
    public void RestoreState(CallbackState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        _best = state.GetDouble("best");
        _wait = state.GetInt32("wait");
    }
}
