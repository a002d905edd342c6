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

    /// <summary>Attaches the model to train; <see cref="Sequential.Fit"/> calls it before <see cref="OnTrainBegin"/>.</summary>
    /// <param name="model">The model; not null.</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    public virtual void SetModel(Sequential model) => Model = model ?? throw new ArgumentNullException(nameof(model));

    /// <summary>The <see cref="Model"/>, for hooks that need it.</summary>
    /// <exception cref="InvalidOperationException">No model has been set.</exception>
    protected Sequential RequireModel() => Model ?? throw new InvalidOperationException($"{GetType().Name} has no model; call SetModel or pass it to Fit.");

    /// <summary>At the start of Fit, after <see cref="SetModel"/> and before the first epoch (or the first epoch after a resumed one).</summary>
    public virtual void OnTrainBegin()
    {
    }

    /// <summary>Before the first training step of <paramref name="epoch"/> (1-based).</summary>
    /// <param name="epoch">The epoch about to run, 1-based.</param>
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

    /// <summary>After a whole epoch and its validation, with the epoch's averages; not called for an epoch stopped part-way.</summary>
    /// <param name="log">The epoch's training and validation loss and accuracy, learning rate and time.</param>
    public virtual void OnEpochEnd(EpochLog log)
    {
    }

    /// <summary>At the end of Fit, after the optimizer's moving averages (if any) have replaced the weights.</summary>
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

    /// <summary>Returns <paramref name="monitor"/> when it is one <see cref="Monitor"/> knows, for constructors to validate their argument.</summary>
    /// <param name="monitor">"loss", "accuracy", "val_loss" or "val_accuracy".</param>
    /// <exception cref="ArgumentException"><paramref name="monitor"/> is none of those.</exception>
    protected static string CheckMonitor(string monitor)
    {
        Monitor(default, monitor);
        return monitor;
    }
}
