namespace Convnet.Optimizers;

/// <summary>A learning rate as a function of the 0-based optimizer step, as Keras's LearningRateSchedule.</summary>
public abstract class LearningRateSchedule
{
    /// <summary>The learning rate for step <paramref name="step"/> (0-based, the optimizer's iterations before it).</summary>
    /// <param name="step">0-based step; non-negative.</param>
    public abstract float Rate(long step);
}
