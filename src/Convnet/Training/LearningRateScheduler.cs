using Convnet.Models;
using Convnet.Optimizers;

namespace Convnet.Training;

/// <summary>Keras's LearningRateScheduler: before each epoch, rate = schedule(0-based epoch index, current rate).</summary>
public sealed class LearningRateScheduler : Callback
{
    private readonly Func<int, float, float> _schedule;

    /// <summary>Sets the rate before each epoch to <paramref name="schedule"/>(0-based epoch, current rate), as Keras's schedule(epoch, lr).</summary>
    /// <param name="schedule">Returns the epoch's rate; it must be positive and finite.</param>
    /// <exception cref="ArgumentNullException"><paramref name="schedule"/> is null.</exception>
    public LearningRateScheduler(Func<int, float, float> schedule) => _schedule = schedule ?? throw new ArgumentNullException(nameof(schedule));

    /// <summary>
    /// Follows a per-epoch <paramref name="schedule"/> (keyed by the 0-based epoch) while keeping
    /// what other callbacks took off: before epoch e > 0 the rate becomes
    /// schedule(e) · current / schedule(e − 1), exactly schedule(e) when nothing else changed the
    /// rate; epoch 0 keeps the rate the optimizer was made with.
    /// </summary>
    public LearningRateScheduler(LearningRateSchedule schedule)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        _schedule = (epoch, current) => epoch == 0 ? current : schedule.Rate(epoch) * (current / schedule.Rate(epoch - 1));
    }

    /// <summary>Sets the optimizer's rate for <paramref name="epoch"/> (1-based; the schedule sees epoch − 1).</summary>
    /// <param name="epoch">The epoch about to run, 1-based.</param>
    /// <exception cref="InvalidOperationException">The model is not compiled, or the schedule returned a rate that is not positive and finite.</exception>
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
