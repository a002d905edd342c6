using Convnet.Layers;
using Convnet.Optimizers;
using Xunit;

namespace Convnet.Tests.Optimizers;

/// <summary>
/// Two optimizer steps on a 3-element parameter against values worked out by hand from the
/// published update rules. The expected numbers below were evaluated in double precision from the
/// formulas, with the inputs and hyperparameters first rounded to float32 as the library receives
/// them (e.g. β2 = 0.999f = 0.99900001287…, which moves 1 − β2ᵗ in the fifth digit).
///
/// Tolerance: the library works in float32, so each stored weight is rounded once per step
/// (≤ ½ ulp(w)), and the update itself carries a relative error of a few u = 2⁻²⁴. Two steps give
/// |w − expected| ≤ ulp(w) + 10·u·Σ|Δw|; the bound used is 2·ulp(w) + 1e-6·Σ|Δw|. A wrong bias
/// correction, ε placement or momentum sign moves w by a sizeable fraction of Δw ≈ 1e-3, that is
/// thousands of ulps.
/// </summary>
public class OptimizerTests
{
    private static readonly float[] W0 = [0.5f, -1.5f, 0.001f];
    private static readonly float[] G1 = [0.2f, -0.05f, 1e-7f];
    private static readonly float[] G2 = [-0.1f, 0.3f, 0f];

    [Fact]
    public void Adam_first_two_steps_match_the_paper_with_keras_defaults()
    {
        // Kingma and Ba (2015), Algorithm 1, with lr = 1e-3, β1 = 0.9, β2 = 0.999, ε = 1e-7:
        //   m_t = β1·m + (1 − β1)·g,  v_t = β2·v + (1 − β2)·g²,
        //   w_t = w − lr · (m_t / (1 − β1ᵗ)) / (√(v_t / (1 − β2ᵗ)) + ε).
        // Step 1: m̂ = g and v̂ = g², so w₁ = w₀ − lr·g / (|g| + ε):
        //   0.5 − 1e-3·0.2/0.2000001 = 0.4990000005;  −1.5 + 1e-3·0.05/0.0500001 = −1.499000002;
        //   and for the tiny gradient ε matters: 0.001 − 1e-3·1e-7/(1e-7 + 1e-7) = 0.0005.
        // Step 2 (1 − β1² = 0.19, 1 − β2² = 0.001999), element 0:
        //   m = 0.09·0.2 + 0.1·(−0.1) = 0.008,  v = 0.999·0.001·0.04 + 0.001·0.01 = 4.996e-5,
        //   w₂ = 0.4990000005 − 1e-3·(0.008/0.19)/(√(4.996e-5/0.001999) + 1e-7) = 0.49873366…;
        //   element 2 has g = 0 but m = 9e-9 still moves it: 0.0005 − 2.7751e-4 = 0.00022249….
        var (store, parameter) = Parameter3();
        var adam = new Adam();
        Assert.Equal((1e-3f, 0.9f, 0.999f, 1e-7f), (adam.LearningRate, adam.Beta1, adam.Beta2, adam.Epsilon));

        Step(adam, store, parameter, G1);
        AssertWeights([0.49900000045250231, -1.4990000019524987, 0.00050000002374872565], parameter.Value, W0);
        Step(adam, store, parameter, G2);
        AssertWeights([0.49873366358171095, -1.4996239203743515, 0.00022249347384781427], parameter.Value, W0);
        Assert.Equal(2, adam.Iterations);
    }

    [Fact]
    public void Sgd_with_momentum_first_two_steps_match_hand_computed_values()
    {
        // Keras's SGD: velocity ← μ·velocity − lr·g, w ← w + velocity; lr = 0.1, μ = 0.9.
        // Step 1: velocity = −0.1·g₁ = [−0.02, 0.005, −1e-8] → w₁ = [0.48, −1.495, 0.00099999].
        // Step 2: velocity = 0.9·velocity − 0.1·g₂ = [−0.008, −0.0255, −9e-9]
        //         → w₂ = [0.472, −1.5205, 0.000999981].
        var (store, parameter) = Parameter3();
        var sgd = new Sgd(learningRate: 0.1f, momentum: 0.9f);
        Step(sgd, store, parameter, G1);
        AssertWeights([0.47999999940395355, -1.4949999998509884, 0.00099999004749718552], parameter.Value, W0);
        Step(sgd, store, parameter, G2);
        AssertWeights([0.47199999964237216, -1.520500001475215, 0.00099998104749718462], parameter.Value, W0);
    }

    [Fact]
    public void Sgd_without_momentum_is_plain_gradient_descent()
    {
        var (store, parameter) = Parameter3();
        var sgd = new Sgd(learningRate: 0.5f);
        Step(sgd, store, parameter, G1);
        Step(sgd, store, parameter, G2);
        // w₂ = w₀ − 0.5·(g₁ + g₂) = [0.45, −1.625, 0.00099995].
        AssertWeights([0.45, -1.625, 0.00099995], parameter.Value, W0);
    }

    private static (ParameterStore, Parameter) Parameter3()
    {
        var store = new ParameterStore();
        var parameter = store.Add("w", 3);
        W0.CopyTo(parameter.Value);
        return (store, parameter);
    }

    private static void Step(Optimizer optimizer, ParameterStore store, Parameter parameter, float[] gradient)
    {
        store.ZeroGradients();
        gradient.CopyTo(parameter.Gradient);
        optimizer.Step(store.Parameters);
    }

    private static void AssertWeights(double[] expected, ReadOnlySpan<float> actual, float[] initial)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            double moved = Math.Abs(expected[i] - initial[i]);
            double ulp = MathF.BitIncrement(MathF.Abs(actual[i])) - MathF.Abs(actual[i]);
            double tolerance = 2 * ulp + 1e-6 * moved;
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance, $"w[{i}] = {actual[i]:R}, expected {expected[i]:R} (±{tolerance:E2}).");
        }
    }
}
