namespace Convnet.Models;

/// <summary>
/// Hooks into <see cref="Sequential.Fit"/>, as Keras's Callback: train, epoch and batch begin/end.
/// Epoch numbers are 1-based, as in <see cref="EpochLog.Epoch"/>; batch numbers are 1-based within
/// the epoch, as in <see cref="BatchLog.Batch"/>. A callback stops training by setting
/// <see cref="Sequential.StopTraining"/> (Fit checks it after each batch and each epoch). The batch
/// hooks run on every training step: they must not allocate, so that a step stays allocation-free.
/// </summary>
public abstract class Callback
{
    /// <summary>The model being trained; Fit sets it before <see cref="OnTrainBegin"/>.</summary>
    public Sequential? Model { get; private set; }

    public virtual void SetModel(Sequential model) => Model = model ?? throw new ArgumentNullException(nameof(model));

    protected Sequential RequireModel() => Model ?? throw new InvalidOperationException($"{GetType().Name} has no model; call SetModel or pass it to Fit.");

    public virtual void OnTrainBegin()
    {
    }

    public virtual void OnEpochBegin(int epoch)
    {
    }

    /// <summary>Before training step <paramref name="batch"/> (1-based) of <paramref name="epoch"/>.</summary>
    public virtual void OnBatchBegin(int epoch, int batch)
    {
    }

    /// <summary>After a training step: the running loss and accuracy of the epoch so far.</summary>
    public virtual void OnBatchEnd(in BatchLog log)
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
