namespace Convnet.Models;

/// <summary>The metrics of one finished epoch. Validation values are NaN when there was no validation data.</summary>
public readonly record struct EpochLog(int Epoch, double Loss, double Accuracy, double ValidationLoss, double ValidationAccuracy, double LearningRate, double Seconds);

/// <summary>Reported after every training batch: the running mean loss and accuracy of the epoch so far.</summary>
public readonly record struct TrainingProgress(int Epoch, int Epochs, int Batch, int Batches, int Seen, int Total, double Loss, double Accuracy, double ElapsedSeconds);

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
