namespace Convnet.Losses;

/// <summary>
/// Cross-entropy between integer labels and the softmax of the logits, fused and stable (the
/// softmax is never formed separately), averaged over the batch, with optional label smoothing.
/// </summary>
public sealed class SparseCategoricalCrossentropy
{
    /// <summary>Cross-entropy of integer labels; with <paramref name="labelSmoothing"/> ε in [0, 1) the target is (1 − ε) on the label plus ε/classes everywhere, as Keras's label_smoothing.</summary>
    public SparseCategoricalCrossentropy(float labelSmoothing = 0)
    {
        if (!(labelSmoothing >= 0 && labelSmoothing < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, "labelSmoothing must be in [0, 1).");
        }
        LabelSmoothing = labelSmoothing;
    }

    /// <summary>The label smoothing ε, 0 for none.</summary>
    public float LabelSmoothing { get; }

    /// <summary>Returns the summed loss of the rows; writes d(mean loss)/dlogits when <paramref name="dlogits"/> is not empty.</summary>
    // logits: [rows, classes], labels: [rows] → dlogits: [rows, classes]
    public double Compute(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int rows, int classes, Span<float> dlogits, out int correct)
        => Kernels.Softmax.CrossEntropy(logits, labels, rows, classes, LabelSmoothing, 1f / rows, dlogits, out correct);
}
