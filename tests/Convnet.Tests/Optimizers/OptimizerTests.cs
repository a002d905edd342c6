using Convnet.Tests.Support;
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

    [Fact]
    public void AdamW_first_two_steps_decay_the_weights_decoupled_from_the_gradient()
    {
        // Loshchilov and Hutter: w ← w − lr·(m̂/(√v̂ + ε) + λ·w), with lr = 0.01, λ = 0.1.
        // Step 1: m̂/(√v̂+ε) = g/(|g|+ε) as for Adam, so w₁ = w₀ − 0.01·(0.2/0.2000001 + 0.1·0.5)
        //   = 0.5 − 0.01·1.0499995 = 0.48950000…; element 2: 0.001 − 0.01·(0.5 + 1e-4) = −0.004001.
        // Step 2 as Adam's with the decay term 0.1·w₁ added inside the bracket.
        var (store, parameter) = Parameter3();
        var adamw = new AdamW(learningRate: 0.01f, weightDecay: 0.1f);
        Step(adamw, store, parameter, G1);
        AssertWeights([0.4895000052272401, -1.4885000202346528, -0.004000999840783887], parameter.Value, W0);
        Step(adamw, store, parameter, G2);
        AssertWeights([0.4863471367037804, -1.4932507040082357, -0.006772064146145949], parameter.Value, W0);
        Assert.Equal(0.004f, new AdamW().WeightDecay);
    }

    [Fact]
    public void RmsProp_first_two_steps_match_keras_with_its_defaults()
    {
        // Keras: v ← ρ·v + (1−ρ)·g², w ← w − lr·g/√(v + ε); lr = 1e-3, ρ = 0.9, ε = 1e-7.
        // Step 1: v = 0.1·g², so Δw = lr·g/√(0.1·g² + 1e-7) ≈ lr·√10·sign(g):
        //   0.5 − 1e-3·0.2/√(0.004 + 1e-7) = 0.49683776…; element 2: √(1e-15 + 1e-7) ≈ 3.16e-4, Δw = 3.16e-7.
        // Step 2: element 0: v = 0.9·0.004 + 0.1·0.01 = 0.0046, w = w₁ + 1e-3·0.1/√0.0046000001 = 0.49831216….
        var (store, parameter) = Parameter3();
        var rms = new RmsProp();
        Assert.Equal((1e-3f, 0.9f, 0f, 1e-7f), (rms.LearningRate, rms.Rho, rms.Momentum, rms.Epsilon));
        Step(rms, store, parameter, G1);
        AssertWeights([0.49683776209432096, -1.4968383548322555, 0.000999683819716148], parameter.Value, W0);
        Step(rms, store, parameter, G2);
        AssertWeights([0.49831216553938695, -1.4999618129196775, 0.000999683819716148], parameter.Value, W0);
    }

    [Fact]
    public void RmsProp_with_momentum_accumulates_the_scaled_steps()
    {
        // mom ← 0.9·mom + lr·g/√(v + ε), w ← w − mom: step 1 as without momentum, step 2 adds 0.9·mom₁.
        var (store, parameter) = Parameter3();
        var rms = new RmsProp(momentum: 0.9f);
        Step(rms, store, parameter, G1);
        AssertWeights([0.49683776209432096, -1.4968383548322555, 0.000999683819716148], parameter.Value, W0);
        Step(rms, store, parameter, G2);
        AssertWeights([0.49546615149966944, -1.4971163323440868, 0.0009993992147205144], parameter.Value, W0);
    }

    [Fact]
    public void ClipNorm_scales_the_gradients_to_the_global_norm_before_the_update()
    {
        // SGD lr = 1, clipNorm = 0.1: ‖g₁‖ = √(0.04 + 0.0025 + 1e-14) = 0.20616, so g₁ is scaled by
        // 0.1/0.20616 = 0.48507: w₁ = [0.5 − 0.097014, −1.5 + 0.024254, 0.001 − 4.85e-8];
        // ‖g₂‖ = √0.1 = 0.31623, scale 0.31623: w₂ = w₁ + [0.031623, −0.094868, 0].
        var (store, parameter) = Parameter3();
        var sgd = new Sgd(learningRate: 1f, clipNorm: 0.1f);
        Step(sgd, store, parameter, G1);
        AssertWeights([0.4029857499854782, -1.4757464374963696, 0.0009999515403726], parameter.Value, W0);
        Step(sgd, store, parameter, G2);
        AssertWeights([0.4346085258803379, -1.570614767537029, 0.0009999515403726], parameter.Value, W0);

        // A norm below clipNorm leaves the gradient alone.
        var (store2, parameter2) = Parameter3();
        Step(new Sgd(learningRate: 1f, clipNorm: 10f), store2, parameter2, G1);
        AssertWeights([0.3, -1.45, 0.0009999], parameter2.Value, W0);
        Assert.Equal("clipNorm", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(clipNorm: 0f)).ParamName);
    }

    [Fact]
    public void Ema_keeps_the_moving_average_of_the_weights_and_finalize_writes_it()
    {
        // SGD lr = 1, EMA momentum 0.9 (Keras's use_ema, with the warm-up μₜ = min(0.9, (t − 1)/(t + 8))):
        // w₁ = w₀ − g₁ = [0.3, −1.45, 0.0009999] and the average starts there (μ₁ = 0, avg₁ = w₁);
        // w₂ = w₁ − g₂ = [0.4, −1.75, 0.0009999], μ₂ = 0.1, avg₂ = 0.1·avg₁ + 0.9·w₂ = [0.39, −1.72, 0.0009999].
        // The weights stay w₂ until FinalizeVariableValues writes avg₂.
        var (store, parameter) = Parameter3();
        var sgd = new Sgd(learningRate: 1f, emaMomentum: 0.9f);
        Assert.Equal(0.9f, sgd.EmaMomentum);
        Step(sgd, store, parameter, G1);
        Step(sgd, store, parameter, G2);
        AssertWeights([0.4, -1.75, 0.0009999], parameter.Value, W0);
        sgd.FinalizeVariableValues(store.Parameters);
        AssertWeights([0.39, -1.72, 0.0009999], parameter.Value, W0);

        // The average is allocated at the first step only.
        Assert.Equal(0, SteadyState.AllocatedBytes(() => Step(sgd, store, parameter, G2)));

        // Without EMA, finalizing leaves the weights as trained.
        var (store2, parameter2) = Parameter3();
        var plain = new Adam();
        Assert.Null(plain.EmaMomentum);
        Step(plain, store2, parameter2, G1);
        var trained = parameter2.Value.ToArray();
        plain.FinalizeVariableValues(store2.Parameters);
        Assert.Equal(trained, parameter2.Value.ToArray());

        Assert.Equal("emaMomentum", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(emaMomentum: 1f)).ParamName);
        Assert.Equal("emaMomentum", Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp(emaMomentum: -0.1f)).ParamName);
        Assert.Equal("emaMomentum", Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(emaMomentum: float.NaN)).ParamName);
    }

    [Theory]
    [InlineData(0.9f, 1, 0.0)]
    [InlineData(0.9f, 2, 0.1)]
    [InlineData(0.9f, 10, 0.5)]
    [InlineData(0.9f, 81, 0.8988764)]
    [InlineData(0.9f, 82, 0.9)]
    [InlineData(0.999f, 940, 0.9905063)]
    [InlineData(0.999f, 20000, 0.999)]
    [InlineData(0f, 5, 0.0)]
    public void Ema_momentum_warms_up_to_the_configured_one(float momentum, long step, double expected)
    {
        // min(μ, (t − 1)/(t + 8)): 80/89, 939/948 by hand.
        Assert.Equal(expected, Optimizer.EmaMomentumAt(momentum, step), 6);
    }

    [Fact]
    public void Ema_over_many_steps_matches_the_warmed_up_average_in_double()
    {
        // 200 SGD steps with varying gradients: the average is the recursion over μₜ computed in double.
        var (store, parameter) = Parameter3();
        var sgd = new Sgd(learningRate: 0.01f, emaMomentum: 0.95f);
        var rng = new Random(3);
        var w = W0.Select(v => (double)v).ToArray();
        var average = new double[3];
        for (int t = 1; t <= 200; t++)
        {
            var g = new float[] { (float)rng.NextDouble() - 0.5f, (float)rng.NextDouble(), -(float)rng.NextDouble() };
            Step(sgd, store, parameter, g);
            double mu = Math.Min(0.95, (t - 1.0) / (t + 8.0));
            for (int i = 0; i < 3; i++)
            {
                w[i] = parameter.Value[i];
                average[i] = mu * average[i] + (1 - mu) * w[i];
            }
        }
        sgd.FinalizeVariableValues(store.Parameters);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(Math.Abs(parameter.Value[i] - average[i]) < 1e-5, $"avg[{i}] = {parameter.Value[i]:R}, expected {average[i]:R}");
        }
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
