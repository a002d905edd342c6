using Convnet.Models;

namespace Convnet.Training;

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
