namespace Convnet.Models;

/// <summary>The metrics of one finished epoch. Validation values are NaN when there was no validation data.</summary>
/// <param name="Epoch">1-based.</param>
/// <param name="Loss">Mean training loss over the epoch's samples (as they were when each was trained on, with dropout and augmentation).</param>
/// <param name="Accuracy">Fraction of the epoch's training samples classified right, in [0, 1].</param>
/// <param name="ValidationLoss">Mean loss on the validation data after the epoch, or NaN.</param>
/// <param name="ValidationAccuracy">Fraction of the validation data classified right after the epoch, in [0, 1], or NaN.</param>
/// <param name="LearningRate">The optimizer's rate at the epoch's last step.</param>
/// <param name="Seconds">Wall-clock time of the epoch, validation included.</param>
public readonly record struct EpochLog(int Epoch, double Loss, double Accuracy, double ValidationLoss, double ValidationAccuracy, double LearningRate, double Seconds);

/// <summary>After every training step (<see cref="Callback.OnBatchEnd"/>): the running mean loss and accuracy of the epoch so far.</summary>
/// <param name="Epoch">1-based, of <paramref name="Epochs"/>.</param>
/// <param name="Batch">1-based, of <paramref name="Batches"/> in the epoch.</param>
/// <param name="Seen">Training samples of the epoch so far, of <paramref name="Total"/>.</param>
/// <param name="Epochs">The epochs Fit was asked for.</param>
/// <param name="Batches">Training steps per epoch.</param>
/// <param name="Total">Training samples per epoch.</param>
/// <param name="Loss">Mean training loss over the epoch's samples so far.</param>
/// <param name="Accuracy">Fraction of the epoch's samples so far classified right, in [0, 1].</param>
/// <param name="BatchLoss">The mean loss of this step's samples alone.</param>
/// <param name="ElapsedSeconds">Wall-clock time since the epoch began.</param>
public readonly record struct BatchLog(int Epoch, int Epochs, int Batch, int Batches, int Seen, int Total, double Loss, double Accuracy, double BatchLoss, double ElapsedSeconds);


/// <summary>What <see cref="Sequential.Fit"/> returns: one <see cref="EpochLog"/> per epoch, as Keras's History.</summary>
public sealed class History
{
    private readonly List<EpochLog> _epochs = [];

    /// <summary>One log per epoch run, in order (for a resumed run, starting with the restored epochs).</summary>
    public IReadOnlyList<EpochLog> Epochs => _epochs;

    /// <summary>Each epoch's mean training loss (a new array per call).</summary>
    public IReadOnlyList<double> Loss => _epochs.Select(e => e.Loss).ToArray();
    /// <summary>Each epoch's training accuracy, in [0, 1] (a new array per call).</summary>
    public IReadOnlyList<double> Accuracy => _epochs.Select(e => e.Accuracy).ToArray();
    /// <summary>Each epoch's validation loss, NaN without validation data (a new array per call).</summary>
    public IReadOnlyList<double> ValidationLoss => _epochs.Select(e => e.ValidationLoss).ToArray();
    /// <summary>Each epoch's validation accuracy, in [0, 1], NaN without validation data (a new array per call).</summary>
    public IReadOnlyList<double> ValidationAccuracy => _epochs.Select(e => e.ValidationAccuracy).ToArray();

    internal void Add(EpochLog log) => _epochs.Add(log);
}
