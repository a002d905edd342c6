using Convnet.Runtime;
using Convnet.Tensors;

namespace Convnet.Tests.Support;

/// <summary>
/// Central finite differences of the scalar loss L = Σ r ⊙ y, with y a layer's float32 output and
/// the sum taken in double, against an analytic gradient.
///
/// Tolerance for one coordinate i, |analytic − numeric| ≤ atol_i + rtol·|numeric|:
/// <list type="bullet">
/// <item>Rounding. Each forward output y_j carries a float32 rounding error of about u·A_j, where u =
/// 2⁻²⁴ and A_j is the sum of the absolute values of the terms that make up y_j (the caller supplies
/// A; it is 0 for layers that only copy or select values). Outputs that do not depend on coordinate
/// i are computed bit-identically in the +h and −h runs and cancel exactly, so only the affected
/// outputs (those that differ between the two runs) count: the error of L(+h) − L(−h) is at most
/// about 2u·S_i with S_i = Σ_{affected j} |r_j|·A_j, and dividing by the step 2h gives u·S_i / h.
/// u·A_j is a typical rather than a worst-case size (a K-term dot product's worst case is K·u·A_j),
/// and the ±h runs see operands up to |x| + h, so atol carries a factor 16 of margin: 16·u·S_i / h.</item>
/// <item>Truncation. Central differences are exact for functions affine in the perturbed coordinate
/// (Dense and Conv2D in any one input or weight; ReLU, MaxPool and Flatten away from their kinks),
/// and err by h²/6·|f'''| otherwise; the caller passes that bound (0 for piecewise-affine layers).</item>
/// <item>The analytic gradient is itself a float32 sum: rtol = 1e-4 relative to the numeric value,
/// plus 1e-6 of the largest gradient entry for entries that are sums with cancellation, plus 1e-9
/// for the double-precision sum that forms L (ε₆₄·Σ|r_j y_j| / h is below 1e-11 here).</item>
/// </list>
/// The coordinate is perturbed in place (layers keep a reference to their input) and restored; the
/// divisor is the perturbation actually stored in float32, not 2h.
/// </summary>
internal static class GradientCheck
{
    public const double Margin = 16;
    public const double RelativeTolerance = 1e-4;

    /// <param name="what">Name of the checked tensor, for messages.</param>
    /// <param name="values">Buffer holding the perturbed tensor at <paramref name="offset"/>.</param>
    /// <param name="analytic">The analytic gradient, one entry per perturbed coordinate.</param>
    /// <param name="forward">Recomputes the output from the (perturbed) buffer.</param>
    /// <param name="r">The loss weights, one per output.</param>
    /// <param name="termSums">A_j per output (Σ |terms| of y_j), or null for a layer that does not round.</param>
    /// <param name="h">Step.</param>
    /// <param name="truncation">Bound on the truncation error h²/6·|f'''| (0 for piecewise-affine functions).</param>
    public static void AssertMatches(string what, float[] values, int offset, ReadOnlySpan<float> analytic, Func<Tensor> forward,
        float[] r, double[]? termSums, double h, double truncation, ref Rng rng, string context)
    {
        double largest = Numerics.MaxAbs(analytic);
        var yPlus = new float[r.Length];
        foreach (int i in Numerics.Coordinates(ref rng, analytic.Length))
        {
            int at = offset + i;
            float original = values[at];

            values[at] = (float)(original + h);
            double xPlus = values[at];
            var y = forward().Span;
            Xunit.Assert.Equal(r.Length, y.Length);
            double lossPlus = Numerics.Dot(r, y);
            y.CopyTo(yPlus);

            values[at] = (float)(original - h);
            double xMinus = values[at];
            y = forward().Span;
            double lossMinus = Numerics.Dot(r, y);
            values[at] = original;

            double affected = 0;
            if (termSums is not null)
            {
                for (int j = 0; j < y.Length; j++)
                {
                    if (yPlus[j] != y[j])
                    {
                        affected += Math.Abs(r[j]) * termSums[j];
                    }
                }
            }

            double numeric = (lossPlus - lossMinus) / (xPlus - xMinus);
            double tolerance = Margin * Numerics.U32 * affected / h + truncation + RelativeTolerance * Math.Abs(numeric) + 1e-6 * largest + 1e-9;
            double error = Math.Abs(analytic[i] - numeric);
            if (!(error <= tolerance))
            {
                Xunit.Assert.Fail($"{context}: d/d{what}[{i}] analytic {analytic[i]:R}, central difference {numeric:R} (h = {h}), |error| {error:E3} > tolerance {tolerance:E3}.");
            }
        }
        // Leave the layer's buffers as they were for the unperturbed input.
        forward();
    }
}
