namespace Convnet.Training;

/// <summary>
/// Training stopped because its loss, gradient norm or weights stopped being finite (see
/// <see cref="TerminateOnNaN"/>): the model is not worth saving.
/// </summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>The divergence <paramref name="guard"/> recorded, with a one-line message saying what became non-finite and where.</summary>
    /// <param name="guard">The callback that stopped training; its <see cref="TerminateOnNaN.Diverged"/> should be true.</param>
    /// <param name="member">The ensemble member that diverged, 0-based; 0 for a single model.</param>
    public TrainingDivergedException(TerminateOnNaN guard, int member = 0)
        : base(Describe(guard ?? throw new ArgumentNullException(nameof(guard))))
    {
        (Epoch, Batch, Loss, What, Member) = (guard.Epoch, guard.Batch, guard.Loss, guard.What, member);
    }

    /// <summary>The 1-based epoch in which it diverged.</summary>
    public int Epoch { get; }

    /// <summary>The 1-based step of the epoch; 0 when the weights were found not finite at the epoch's end.</summary>
    public int Batch { get; }

    /// <summary>The step's mean loss.</summary>
    public double Loss { get; }

    /// <summary>"loss", "gradient norm" or "weights".</summary>
    public string What { get; }

    /// <summary>The ensemble member (0 for a single model).</summary>
    public int Member { get; }

    private static string Describe(TerminateOnNaN guard) => guard.Batch > 0
        ? $"training diverged: the {guard.What} became {Number(guard.What == "loss" ? guard.Loss : double.NaN)} at step {guard.Batch} of epoch {guard.Epoch}"
        : $"training diverged: the weights held NaN or infinite values after epoch {guard.Epoch}";

    private static string Number(double x) => double.IsNaN(x) ? "NaN" : double.IsPositiveInfinity(x) ? "infinite" : double.IsNegativeInfinity(x) ? "-infinite" : "not finite";
}
