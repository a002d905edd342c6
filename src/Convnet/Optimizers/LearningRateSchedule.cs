namespace Convnet.Optimizers;

/// <summary>A learning rate as a function of the 0-based optimizer step, as Keras's LearningRateSchedule.</summary>
public abstract class LearningRateSchedule
{
    public abstract float Rate(long step);
}
