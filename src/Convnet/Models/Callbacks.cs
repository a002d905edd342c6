using System.Globalization;

namespace Convnet.Models;

/// <summary>
/// Hooks into <see cref="Sequential.Fit"/>, as Keras's Callback. Epoch numbers are 1-based, as in
/// <see cref="EpochLog.Epoch"/>. A callback stops training by setting <see cref="Sequential.StopTraining"/>.
/// </summary>
public abstract class Callback
{
    /// <summary>The model being trained; Fit sets it before <see cref="OnTrainBegin"/>.</summary>
    public Sequential? Model { get; private set; }

    public void SetModel(Sequential model) => Model = model ?? throw new ArgumentNullException(nameof(model));

    protected Sequential RequireModel() => Model ?? throw new InvalidOperationException($"{GetType().Name} has no model; call SetModel or pass it to Fit.");

    public virtual void OnTrainBegin()
    {
    }

    public virtual void OnEpochBegin(int epoch)
    {
    }

    public virtual void OnEpochEnd(EpochLog log)
    {
    }

    public virtual void OnTrainEnd()
    {
    }

    /// <summary>The value of "loss", "accuracy", "val_loss" or "val_accuracy" in a log (NaN when absent).</summary>
    public static double Monitor(EpochLog log, string monitor) => monitor switch
    {
        "loss" => log.Loss,
        "accuracy" => log.Accuracy,
        "val_loss" => log.ValidationLoss,
        "val_accuracy" => log.ValidationAccuracy,
        _ => throw new ArgumentException($"unknown monitor '{monitor}' (use loss, accuracy, val_loss or val_accuracy)", nameof(monitor)),
    };

    /// <summary>Keras's "auto" mode: accuracies are maximised, losses minimised.</summary>
    protected static bool Maximize(string monitor) => monitor.EndsWith("accuracy", StringComparison.Ordinal);

    protected static string CheckMonitor(string monitor)
    {
        Monitor(default, monitor);
        return monitor;
    }
}

/// <summary>Keras's LearningRateScheduler: before each epoch, rate = schedule(0-based epoch index, current rate).</summary>
public sealed class LearningRateScheduler(Func<int, float, float> schedule) : Callback
{
    private readonly Func<int, float, float> _schedule = schedule ?? throw new ArgumentNullException(nameof(schedule));

    public override void OnEpochBegin(int epoch)
    {
        var optimizer = RequireModel().Optimizer ?? throw new InvalidOperationException("Compile the model first.");
        float rate = _schedule(epoch - 1, optimizer.LearningRate);
        if (!(rate > 0) || float.IsInfinity(rate))
        {
            throw new InvalidOperationException($"The schedule returned learning rate {rate} for epoch {epoch}; it must be positive and finite.");
        }
        optimizer.LearningRate = rate;
    }
}

/// <summary>
/// Keras's ReduceLROnPlateau: when <see cref="Monitor"/> has not improved by more than minDelta for
/// <c>patience</c> epochs, rate ← max(rate·factor, minLr) and the count restarts. Epochs where the
/// monitored value is NaN (e.g. no validation data) are ignored.
/// </summary>
public sealed class ReduceLROnPlateau : Callback
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
}

/// <summary>
/// Keras's EarlyStopping: stops when <see cref="Monitor"/> has not improved by more than minDelta
/// for <c>patience</c> epochs; with restoreBestWeights the model ends with the weights (and
/// non-trainable state) of its best epoch. NaN values (no validation data) are ignored.
/// </summary>
public sealed class EarlyStopping : Callback
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
}

/// <summary>
/// Keras's ModelCheckpoint: saves the model after each epoch (atomically, via <see cref="ModelFile.Save"/>),
/// or with saveBestOnly only when <see cref="Monitor"/> improved. "{epoch}" in the path is replaced by the epoch number.
/// </summary>
public sealed class ModelCheckpoint : Callback
{
    private double _best;

    /// <param name="metadata">Extra metadata written into each saved file, besides "epoch".</param>
    public ModelCheckpoint(string path, string monitor = "val_loss", bool saveBestOnly = false, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = path;
        MonitorName = CheckMonitor(monitor);
        SaveBestOnly = saveBestOnly;
        Metadata = metadata ?? new Dictionary<string, string>();
        OnTrainBegin();
    }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    public string Path { get; }
    public string MonitorName { get; }
    public bool SaveBestOnly { get; }

    /// <summary>Epochs saved so far, in order.</summary>
    public List<int> SavedEpochs { get; } = [];

    public override void OnTrainBegin() => _best = Maximize(MonitorName) ? double.NegativeInfinity : double.PositiveInfinity;

    public override void OnEpochEnd(EpochLog log)
    {
        if (SaveBestOnly)
        {
            double current = Monitor(log, MonitorName);
            bool better = Maximize(MonitorName) ? current > _best : current < _best;
            if (double.IsNaN(current) || !better)
            {
                return;
            }
            _best = current;
        }
        string path = Path.Replace("{epoch}", log.Epoch.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        var metadata = new Dictionary<string, string>(Metadata) { ["epoch"] = log.Epoch.ToString(CultureInfo.InvariantCulture) };
        ModelFile.Save(RequireModel(), path, metadata);
        SavedEpochs.Add(log.Epoch);
    }
}
