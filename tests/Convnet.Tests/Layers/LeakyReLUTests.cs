using Convnet.Architecture;
using Convnet.Kernels;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Runtime;
using Convnet.Saving;
using Convnet.Tensors;
using Convnet.Tests.Data;
using Convnet.Tests.Support;
using Xunit;

namespace Convnet.Tests.Layers;

/// <summary>LeakyReLU: its operators against their scalar twins, its gradient, its spec token, config and model file.</summary>
public class LeakyReLUTests
{
    private static readonly float[] X = [-2f, -0.5f, -0f, 0f, 0.5f, 3f, float.NegativeInfinity, float.PositiveInfinity];

    [Fact]
    public void Forward_and_backward_by_hand()
    {
        var y = new float[X.Length];
        Elementwise.MapScalar<LeakyReluOperator>(X, 0.25f, y);
        Numerics.AssertBitEqual([-0.5f, -0.125f, -0f, 0f, 0.5f, 3f, float.NegativeInfinity, float.PositiveInfinity], y, "leaky forward");
        var dx = new float[X.Length];
        Elementwise.MapScalar<LeakyReluGradientOperator>(X, [1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f], 0.25f, dx);
        Numerics.AssertBitEqual([0.25f, 0.5f, 0.75f, 1f, 5f, 6f, 1.75f, 8f], dx, "leaky backward");
    }

    [Theory]
    [InlineData(0, 0.3f)]
    [InlineData(7, 0.01f)]
    [InlineData(33, 0.25f)]
    [InlineData(1031, 2f)]
    public void Vector_operators_equal_their_scalar_twins(int length, float slope)
    {
        var rng = new Rng((ulong)length);
        var x = new float[length];
        var dy = new float[length];
        Numerics.Uniform(ref rng, x, -3, 3);
        Numerics.Uniform(ref rng, dy, -1, 1);
        var expected = new float[length];
        var actual = new float[length];
        Elementwise.MapScalar<LeakyReluOperator>(x, slope, expected);
        Elementwise.Map<LeakyReluOperator>(x, slope, actual);
        Numerics.AssertBitEqual(expected, actual, "forward");
        Elementwise.MapScalar<LeakyReluGradientOperator>(x, dy, slope, expected);
        Elementwise.Map<LeakyReluGradientOperator>(x, dy, slope, actual);
        Numerics.AssertBitEqual(expected, actual, "backward");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(40)]
    public void Input_gradient_matches_finite_differences(int batch)
    {
        // A slope of 0.25 scales exactly, and |x| ≥ 0.02 keeps a ±0.01 step off the kink.
        static void AwayFromKink(ref Rng rng, Span<float> x) => Numerics.AwayFromZero(ref rng, x, 0.02f);
        LayerGradientTests.CheckLayer(new LeakyReLU(0.25f), Shape.Image(3, 5, 7), batch, batch, AwayFromKink, 1e-2, null, 0, $"batch {batch}");
    }

    [Theory]
    [InlineData("leakyrelu", 0.3f)]
    [InlineData("leakyrelu0.1", 0.1f)]
    [InlineData("leakyrelu0", 0f)]
    public void Spec_tokens_parse_and_format(string token, float slope)
    {
        var layer = Assert.IsType<LeakyReLU>(LayerRegistry.Parse(token));
        Assert.Equal(slope, layer.NegativeSlope);
        Assert.Equal(token, layer.FormatToken());
        Assert.Equal("conv4k3-leakyrelu0.1,flatten", ArchitectureSpec.Format(ArchitectureSpec.Parse("conv4k3-leakyrelu0.1,flatten")));
    }

    [Theory]
    [InlineData("leakyrelux")]
    [InlineData("leakyrelu-1")]
    [InlineData("leakyrelu1e9999")]
    public void Malformed_tokens_are_refused_naming_the_token(string spec)
    {
        var e = Assert.Throws<ArchitectureSpecException>(() => ArchitectureSpec.Parse(spec));
        Assert.Contains("token 1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Negative_or_infinite_slopes_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LeakyReLU(-0.1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LeakyReLU(float.PositiveInfinity));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LeakyReLU(float.NaN));
    }

    [Fact]
    public void A_model_with_LeakyReLU_saves_as_Keras_config_and_loads_to_the_same_predictions()
    {
        using var dir = new TempDir();
        using var model = ArchitectureSpec.Build("conv4k3-leakyrelu0.1,maxpool2,flatten,dense8-leakyrelu", Shape.Image(8, 8, 1), 3, seed: 2, threads: 1);
        Assert.Contains("{\"type\":\"LeakyReLU\",\"negative_slope\":\"0.1\"}", ModelFile.ArchitectureJson(model), StringComparison.Ordinal);
        string path = Path.Combine(dir.Path, "leaky.safetensors");
        model.Save(path);
        var (loaded, _) = ModelFile.Load(path, threads: 1);
        using (loaded)
        {
            var rng = new Rng(9);
            var x = new float[5 * 64];
            Numerics.Uniform(ref rng, x, -1, 1);
            Numerics.AssertBitEqual(model.Predict(x), loaded.Predict(x), "predictions");
        }
    }
}
