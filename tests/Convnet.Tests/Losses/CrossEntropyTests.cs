using Convnet.Losses;
using Convnet.Runtime;
using Convnet.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Convnet.Tests.Losses;

/// <summary>
/// The fused softmax cross-entropy (through <see cref="SparseCategoricalCrossentropy"/>, which scales
/// the gradient by 1 / rows for a mean loss) against a double-precision reference of the same
/// formula: loss_r = −Σ_j t_j·log softmax(x_r)_j with t = (1 − ε)·onehot + ε / classes, mean over rows.
/// </summary>
public class CrossEntropyTests
{
    public sealed record LossCase(int Rows, int Classes, float Smoothing, int Seed);

    private static Arbitrary<LossCase> Cases(bool smoothing) =>
        (from rows in Gen.Choose(1, 6)
         from classes in Gen.Choose(1, 20)
         from epsilon in smoothing ? Gen.Elements(0.05f, 0.1f, 0.2f, 0.5f) : Gen.Constant(0f)
         from seed in Gen.Choose(0, int.MaxValue)
         select new LossCase(rows, classes, epsilon, seed)).ToArbitrary();

    [Property(MaxTest = 40)]
    public Property Gradient_matches_finite_differences_of_the_mean_loss_without_smoothing()
        => Prop.ForAll(Cases(smoothing: false), Check);

    [Property(MaxTest = 40)]
    public Property Gradient_matches_finite_differences_of_the_mean_loss_with_label_smoothing()
        => Prop.ForAll(Cases(smoothing: true), Check);

    /// <summary>
    /// Tolerances (u = 2⁻²⁴, N rows, K classes, logits in [−4, 4]):
    /// <list type="bullet">
    /// <item>Loss value: the library forms log p_j = x_j − max − log Σ exp(x − max) in float32, a
    /// few roundings of quantities up to |x_j − max| + |log Σ| ≤ 8 + log K, plus K·u relative from the
    /// sum; per row the error is ≤ 4u·(8 + log K + K + 2), summed over rows.</item>
    /// <item>Gradient: the finite difference is of the double-precision reference (its rounding,
    /// ~1e-16·|L|/h, is negligible) with h = 1e-3; the truncation error is h²/6·|∂³L/∂x³|, and for a
    /// mean of log-sum-exps ∂³/∂x_i³ = p_i(1 − p_i)(1 − 2p_i)/N ≤ 0.1/N, so ≤ 2e-8/N. The library's
    /// dlogits = (exp(log p) − t)/N inherits the relative error of log p times p, the same 4u·(…)
    /// factor, plus one rounding of the result: atol = (4u·(p_i·(8 + log K + K + 2) + 1) + 2e-8)/N.</item>
    /// </list>
    /// </summary>
    private static void Check(LossCase c)
    {
        var rng = new Rng((ulong)c.Seed);
        var logits = Numerics.Uniform(ref rng, c.Rows * c.Classes, -4, 4);
        var labels = new int[c.Rows];
        for (int r = 0; r < c.Rows; r++)
        {
            labels[r] = rng.NextInt(c.Classes);
        }
        var loss = new SparseCategoricalCrossentropy(c.Smoothing);
        var dlogits = new float[logits.Length];
        double sum = loss.Compute(logits, labels, c.Rows, c.Classes, dlogits, out int correct);

        // The summed loss, and the accuracy count.
        double perRow = 4 * Numerics.U32 * (8 + Math.Log(c.Classes) + c.Classes + 2);
        double reference = 0;
        int referenceCorrect = 0;
        for (int r = 0; r < c.Rows; r++)
        {
            reference += RowLoss(logits.AsSpan(r * c.Classes, c.Classes), labels[r], c.Smoothing);
            var row = logits.AsSpan(r * c.Classes, c.Classes);
            referenceCorrect += row.IndexOf(Max(row)) == labels[r] ? 1 : 0;
        }
        Assert.True(Math.Abs(sum - reference) <= perRow * c.Rows, $"{c}: summed loss {sum:R}, reference {reference:R}.");
        Assert.Equal(referenceCorrect, correct);

        // d(mean loss)/dlogits.
        const double h = 1e-3;
        for (int r = 0; r < c.Rows; r++)
        {
            var row = logits.AsSpan(r * c.Classes, c.Classes).ToArray();
            var p = Softmax(row);
            for (int j = 0; j < c.Classes; j++)
            {
                float original = row[j];
                row[j] = (float)(original + h);
                double xPlus = row[j];
                double plus = RowLoss(row, labels[r], c.Smoothing) / c.Rows;
                row[j] = (float)(original - h);
                double xMinus = row[j];
                double minus = RowLoss(row, labels[r], c.Smoothing) / c.Rows;
                row[j] = original;
                double numeric = (plus - minus) / (xPlus - xMinus);
                double tolerance = (4 * Numerics.U32 * (p[j] * (8 + Math.Log(c.Classes) + c.Classes + 2) + 1) + 2e-8) / c.Rows;
                float analytic = dlogits[r * c.Classes + j];
                Assert.True(Math.Abs(analytic - numeric) <= tolerance, $"{c}: dlogits[{r},{j}] {analytic:R}, central difference {numeric:R}, tolerance {tolerance:E3}.");
            }
        }
    }

    [Fact]
    public void Gradient_is_softmax_minus_target_over_rows()
    {
        // Two rows of equal logits over 4 classes: p = 1/4 everywhere. With ε = 0.2 the target is
        // 0.8·onehot + 0.05, so dlogits = (0.25 − 0.85) / 2 = −0.3 on the label, (0.25 − 0.05) / 2 = 0.1 elsewhere.
        var dlogits = new float[8];
        double sum = new SparseCategoricalCrossentropy(0.2f).Compute(new float[8], [1, 3], 2, 4, dlogits, out _);
        Assert.Equal(2 * Math.Log(4), sum, 5);
        float[] expected = [0.1f, -0.3f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, -0.3f];
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(expected[i], dlogits[i], 6);
        }
    }

    [Fact]
    public void Huge_logits_do_not_overflow()
    {
        var dlogits = new float[3];
        double sum = new SparseCategoricalCrossentropy().Compute([1000f, 0f, -1000f], [1], 1, 3, dlogits, out int correct);
        Assert.Equal(1000.0, sum, 3);
        Assert.Equal(0, correct);
        Assert.Equal([1f, -1f, 0f], dlogits);
    }

    [Fact]
    public void Out_of_range_label_is_rejected()
        => Assert.Throws<ArgumentOutOfRangeException>(() => new SparseCategoricalCrossentropy().Compute(new float[3], [3], 1, 3, new float[3], out _));

    private static double RowLoss(ReadOnlySpan<float> x, int label, float smoothing)
    {
        double max = Max(x);
        double sum = 0;
        foreach (float v in x)
        {
            sum += Math.Exp(v - max);
        }
        double logSum = Math.Log(sum);
        double off = (double)smoothing / x.Length;
        double loss = 0;
        for (int j = 0; j < x.Length; j++)
        {
            double target = (j == label ? 1 - smoothing : 0) + off;
            loss -= target * (x[j] - max - logSum);
        }
        return loss;
    }

    private static double[] Softmax(ReadOnlySpan<float> x)
    {
        double max = Max(x);
        var p = new double[x.Length];
        double sum = 0;
        for (int j = 0; j < x.Length; j++)
        {
            p[j] = Math.Exp(x[j] - max);
            sum += p[j];
        }
        for (int j = 0; j < x.Length; j++)
        {
            p[j] /= sum;
        }
        return p;
    }

    private static float Max(ReadOnlySpan<float> x)
    {
        float max = float.NegativeInfinity;
        foreach (float v in x)
        {
            max = MathF.Max(max, v);
        }
        return max;
    }
}
