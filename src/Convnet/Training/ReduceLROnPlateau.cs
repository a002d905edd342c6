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

    public string MonitorName { get; }
    public float Factor { get; }
    public int Patience { get; }
    public float MinLr { get; }
    public double MinDelta { get; }

    public override void OnTrainBegin()
    {
        _best = Maximize(MonitorName) ? double.NegativeInfinity : double.PositiveInfinity;
        _wait = 0;
    }

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

    public void SaveState(CallbackState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.Set("best", _best);
        state.Set("wait", _wait);
    }

    public void RestoreState(CallbackState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        _best = state.GetDouble("best");
        _wait = state.GetInt32("wait");
    }
}
