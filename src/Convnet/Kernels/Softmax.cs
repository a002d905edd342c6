namespace Convnet.Kernels;

/// <summary>A numerically stable softmax and the fused softmax cross-entropy over rows of logits.</summary>
public static class Softmax
{
    /// <summary>Numerically stable softmax of each row: exp(x - max) / Σ exp(x - max).</summary>
    // x: [rows, classes] → y: [rows, classes]
    public static void Forward(ReadOnlySpan<float> x, int rows, int classes, Span<float> y)
    {
        for (int r = 0; r < rows; r++)
        {
            var xi = x.Slice(r * classes, classes);
            var yi = y.Slice(r * classes, classes);
            float max = float.NegativeInfinity;
            for (int j = 0; j < classes; j++)
            {
                max = MathF.Max(max, xi[j]);
            }
            float sum = 0;
            for (int j = 0; j < classes; j++)
            {
                yi[j] = MathF.Exp(xi[j] - max);
                sum += yi[j];
            }
            float inv = 1f / sum;
            for (int j = 0; j < classes; j++)
            {
                yi[j] *= inv;
            }
        }
    }

    /// <summary>The softmax Jacobian applied to dy: dx = y ⊙ (dy − ⟨dy, y⟩), row by row.</summary>
    // y, dy: [rows, classes] → dx: [rows, classes]
    public static void Backward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, int rows, int classes, Span<float> dx)
    {
        for (int r = 0; r < rows; r++)
        {
            var yi = y.Slice(r * classes, classes);
            var dyi = dy.Slice(r * classes, classes);
            float dot = 0;
            for (int j = 0; j < classes; j++)
            {
                dot += yi[j] * dyi[j];
            }
            var dxi = dx.Slice(r * classes, classes);
            for (int j = 0; j < classes; j++)
            {
                dxi[j] = yi[j] * (dyi[j] - dot);
            }
        }
    }

    /// <summary>
    /// Fused softmax + cross-entropy on logits with integer labels and optional label smoothing ε
    /// (target = (1 − ε)·onehot + ε / classes). Returns the summed loss over the rows and writes
    /// dlogits = (softmax − target) · gradScale (gradScale is 1 / batch for a mean loss).
    /// log softmax is computed as x − max − log Σ exp(x − max), so it never overflows.
    /// </summary>
    // logits: [rows, classes], labels: [rows] → dlogits: [rows, classes]
    public static double CrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int rows, int classes, float smoothing, float gradScale, Span<float> dlogits, out int correct)
    {
        double total = 0;
        correct = 0;
        float off = smoothing / classes;
        float on = 1f - smoothing + off;
        for (int r = 0; r < rows; r++)
        {
            var xi = logits.Slice(r * classes, classes);
            int label = labels[r];
            if ((uint)label >= (uint)classes)
            {
                throw new ArgumentOutOfRangeException(nameof(labels), label, $"Label must be in 0..{classes - 1}.");
            }
            float max = float.NegativeInfinity;
            int argmax = 0;
            for (int j = 0; j < classes; j++)
            {
                if (xi[j] > max)
                {
                    max = xi[j];
                    argmax = j;
                }
            }
            if (argmax == label)
            {
                correct++;
            }
            float sum = 0;
            for (int j = 0; j < classes; j++)
            {
                sum += MathF.Exp(xi[j] - max);
            }
            float logSum = MathF.Log(sum);
            double loss = 0;
            var gi = dlogits.IsEmpty ? default : dlogits.Slice(r * classes, classes);
            for (int j = 0; j < classes; j++)
            {
                float logP = xi[j] - max - logSum;
                float target = j == label ? on : off;
                if (target != 0)
                {
                    loss -= target * logP;
                }
                if (!gi.IsEmpty)
                {
                    gi[j] = (MathF.Exp(logP) - target) * gradScale;
                }
            }
            total += loss;
        }
        return total;
    }
}
