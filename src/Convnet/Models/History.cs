namespace Convnet.Models;

/// <summary>The metrics of one finished epoch. Validation values are NaN when there was no validation data.</summary>
public readonly record struct EpochLog(int Epoch, double Loss, double Accuracy, double ValidationLoss, double ValidationAccuracy, double LearningRate, double Seconds);

/// <summary>After every training step (<see cref="Callback.OnBatchEnd"/>): the running mean loss and accuracy of the epoch so far.</summary>
/// <param name="Epoch">1-based, of <paramref name="Epochs"/>.</param>
/// <param name="Batch">1-based, of <paramref name="Batches"/> in the epoch.</param>
/// <param name="Seen">Training samples of the epoch so far, of <paramref name="Total"/>.</param>
/// <param name="BatchLoss">The mean loss of this step's samples alone.</param>
public readonly record struct BatchLog(int Epoch, int Epochs, int Batch, int Batches, int Seen, int Total, double Loss, double Accuracy, double BatchLoss, double ElapsedSeconds);


/// <summary>What <see cref="Sequential.Fit"/> returns: one <see cref="EpochLog"/> per epoch, as Keras's History.</summary>
public sealed class History
{
    private readonly List<EpochLog> _epochs = [];

    public IReadOnlyList<EpochLog> Epochs => _epochs;

    public IReadOnlyList<double> Loss => _epochs.Select(e => e.Loss).ToArray();
    public IReadOnlyList<double> Accuracy => _epochs.Select(e => e.Accuracy).ToArray();
    public IReadOnlyList<double> ValidationLoss => _epochs.Select(e => e.ValidationLoss).ToArray();
    public IReadOnlyList<double> ValidationAccuracy => _epochs.Select(e => e.ValidationAccuracy).ToArray();

    internal void Add(EpochLog log) => _epochs.Add(log);
}
