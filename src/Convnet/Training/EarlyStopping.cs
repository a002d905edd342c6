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

    /// <summary>An early stop on <paramref name="monitor"/>, with Keras's defaults.</summary>
    /// <param name="monitor">"loss", "accuracy", "val_loss" (default) or "val_accuracy"; accuracies are maximised, losses minimised.</param>
    /// <param name="patience">Epochs without improvement to allow; 0 stops at the first one that does not improve.</param>
    /// <param name="minDelta">The least change that counts as an improvement (its absolute value is used).</param>
    /// <param name="restoreBestWeights">Set the best epoch's weights and non-trainable state back when training ends.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="patience"/> is negative.</exception>
    /// <exception cref="ArgumentException"><paramref name="monitor"/> is not one of the four names.</exception>
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

    /// <summary>The monitored value: "loss", "accuracy", "val_loss" or "val_accuracy".</summary>
    public string MonitorName { get; }
    /// <summary>Epochs without improvement allowed before stopping.</summary>
    public int Patience { get; }
    /// <summary>The least change that counts as an improvement; non-negative.</summary>
    public double MinDelta { get; }
    /// <summary>Whether the best epoch's weights are set back when training ends.</summary>
    public bool RestoreBestWeights { get; }

    /// <summary>The epoch with the best monitored value so far (0 before any).</summary>
    public int BestEpoch { get; private set; }

    /// <summary>The epoch after which training was stopped (0 when it was not).</summary>
    public int StoppedEpoch { get; private set; }

    /// <summary>Forgets the best value, the wait count and the best weights of any earlier Fit.</summary>
    public override void OnTrainBegin()
    {
        _best = Maximize(MonitorName) ? double.NegativeInfinity : double.PositiveInfinity;
        _wait = 0;
        _bestWeights = null;
        BestEpoch = StoppedEpoch = 0;
    }

    /// <summary>Keeps an improved value (and the weights, with <see cref="RestoreBestWeights"/>), or counts one more epoch without improvement and stops training after <see cref="Patience"/> of them.</summary>
    /// <param name="log">The epoch's log; a NaN monitored value is skipped.</param>
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

    /// <summary>With <see cref="RestoreBestWeights"/>, sets the best epoch's weights back (after the optimizer's moving average, which they override).</summary>
    public override void OnTrainEnd()
    {
        if (RestoreBestWeights && _bestWeights is not null)
        {
            RequireModel().SetWeights(_bestWeights);
        }
    }

    /// <inheritdoc/>
    public void SaveState(CallbackState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.Set("best", _best);
        state.Set("wait", _wait);
        state.Set("best_epoch", BestEpoch);
        state.Set("stopped_epoch", StoppedEpoch);
        state.SetArray("best_weights", _bestWeights);
    }

    /// <inheritdoc/>
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
