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
