using Convnet.Models;

namespace Convnet.Training;

/// <summary>
/// Keras's TerminateOnNaN: stops training at the first step whose loss is not finite (NaN or
/// infinite), or whose gradient norm is not when the optimizer computed it (with clipping), and at
/// the end of an epoch whose weights are not all finite. Fit then returns without that epoch's log;
/// <see cref="Diverged"/> says so and where. Put it before callbacks that save the model, so that
/// they never see the diverged epoch.
/// </summary>
public sealed class TerminateOnNaN : Callback
{
    /// <summary>Whether training was stopped because it diverged.</summary>
    public bool Diverged => Epoch > 0;

    /// <summary>The 1-based epoch in which training diverged; 0 when it did not.</summary>
    public int Epoch { get; private set; }

    /// <summary>The 1-based step of <see cref="Epoch"/> whose loss or gradient was not finite; 0 when it did not, or when only the weights at the epoch's end were.</summary>
    public int Batch { get; private set; }

    /// <summary>The step's mean loss when training diverged (NaN or infinite, or finite when the gradient norm or weights were not).</summary>
    public double Loss { get; private set; }

    /// <summary>What was not finite: "loss", "gradient norm" or "weights"; empty when training did not diverge.</summary>
    public string What { get; private set; } = "";

    /// <summary>Clears the record of an earlier divergence.</summary>
    public override void OnTrainBegin()
    {
        (Epoch, Batch, Loss, What) = (0, 0, 0, "");
    }

    /// <summary>Stops training when the step's loss, or the gradient norm the optimizer computed for it, is not finite.</summary>
    /// <param name="log">The step's log; its <see cref="BatchLog.BatchLoss"/> is checked.</param>
    public override void OnBatchEnd(in BatchLog log)
    {
        var model = RequireModel();
        if (!double.IsFinite(log.BatchLoss))
        {
            Stop(model, log.Epoch, log.Batch, log.BatchLoss, "loss");
        }
        else if (model.Optimizer?.GradientNorm is { } norm && !double.IsFinite(norm))
        {
            Stop(model, log.Epoch, log.Batch, log.BatchLoss, "gradient norm");
        }
    }

    /// <summary>Stops training when the weights after the epoch are not all finite.</summary>
    /// <param name="log">The epoch's log.</param>
    public override void OnEpochEnd(EpochLog log)
    {
        var model = RequireModel();
        if (!Diverged && !model.WeightsAreFinite())
        {
            Stop(model, log.Epoch, 0, log.Loss, "weights");
        }
    }

    private void Stop(Sequential model, int epoch, int batch, double loss, string what)
    {
        (Epoch, Batch, Loss, What) = (epoch, batch, loss, what);
        model.StopTraining = true;
    }
}
