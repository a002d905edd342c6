using Convnet.Models;

namespace Convnet.Training;

/// <summary>
/// Keras's EarlyStopping: stops when <see cref="Monitor"/> has not improved by more than minDelta
/// for <c>patience</c> epochs; with restoreBestWeights the model ends with the weights (and
/// non-trainable state) of its best epoch. NaN values (no validation data) are ignored.
/// </summary>
public sealed class EarlyStopping : Callback, IStatefulCallback
{
    private double _best;
    private int _wait;
    private float[]? _bestWeights;

    public EarlyStopping(string monitor = "val_loss", int patience = 0, double minDelta = 0, bool restoreBestWeights = false)
    {
        if (patience < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(patience), patience, "patience must be non-negative.");
        }
        MonitorName = CheckMonitor(monitor);
        (Patience, MinDelta, RestoreBestWeights) = (patience, Math.Abs(minDelta), restoreBestWeights);
        OnTrainBegin();
    }

    public string MonitorName { get; }
    public int Patience { get; }
    public double MinDelta { get; }
    public bool RestoreBestWeights { get; }

    /// <summary>The epoch with the best monitored value so far (0 before any).</summary>
    public int BestEpoch { get; private set; }

    /// <summary>The epoch after which training was stopped (0 when it was not).</summary>
    public int StoppedEpoch { get; private set; }

    public override void OnTrainBegin()
    {
        _best = Maximize(MonitorName) ? double.NegativeInfinity : double.PositiveInfinity;
        _wait = 0;
        _bestWeights = null;
        BestEpoch = StoppedEpoch = 0;
    }

    public override void OnEpochEnd(EpochLog log)
    {
        double current = Monitor(log, MonitorName);
        if (double.IsNaN(current))
        {
            return;
        }
        bool better = Maximize(MonitorName) ? current - MinDelta > _best : current + MinDelta < _best;
        if (better)
        {
            _best = current;
            BestEpoch = log.Epoch;
            _wait = 0;
            if (RestoreBestWeights)
            {
                _bestWeights = RequireModel().GetWeights();
            }
            return;
        }
        if (++_wait >= Patience)
        {
            StoppedEpoch = log.Epoch;
            RequireModel().StopTraining = true;
        }
    }

    public override void OnTrainEnd()
    {
        if (RestoreBestWeights && _bestWeights is not null)
        {
            RequireModel().SetWeights(_bestWeights);
        }
    }

    public void SaveState(CallbackState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.Set("best", _best);
        state.Set("wait", _wait);
        state.Set("best_epoch", BestEpoch);
        state.Set("stopped_epoch", StoppedEpoch);
        state.SetArray("best_weights", _bestWeights);
    }

    public void RestoreState(CallbackState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var model = RequireModel();
        _best = state.GetDouble("best");
        _wait = state.GetInt32("wait");
        BestEpoch = state.GetInt32("best_epoch");
        StoppedEpoch = state.GetInt32("stopped_epoch");
        _bestWeights = state.GetArray("best_weights", model.ParameterCount + model.NonTrainableParameterCount)?.ToArray();
    }
}
