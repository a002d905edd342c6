using Convnet.Architecture;
using Convnet.Tensors;
using Xunit;

namespace Convnet.Tests.Architecture;

/// <summary>The data's image size, and nothing else about it, chooses the default recipe.</summary>
public sealed class DefaultRecipeTests
{
    [Theory]
    [InlineData(28, 28, 1, "general")]
    [InlineData(32, 32, 3, "general")]
    [InlineData(18, 18, 1, "general")]
    [InlineData(18, 40, 3, "general")]
    [InlineData(17, 17, 1, "simple")]
    [InlineData(16, 16, 3, "simple")]
    [InlineData(10, 10, 1, "simple")]
    [InlineData(9, 9, 1, "general")]
    public void Images_too_small_for_general_get_simple_and_smaller_ones_general_and_its_error(int height, int width, int channels, string expected)
    {
        var input = Shape.Image(height, width, channels);
        Assert.Equal(expected, Architectures.DefaultFor(input).Name);
        Assert.Equal(expected == "general" ? height >= 18 && width >= 18 : true, Architectures.Fits(Architectures.DefaultFor(input), input));
    }

    [Fact]
    public void Fits_agrees_with_building_the_recipe()
    {
        // "simple" is built layer by layer (ArgumentException), the others from their specs.
        foreach (int side in new[] { 8, 9, 10, 17, 18, 28 })
        {
            var input = Shape.Image(side, side, 1);
            foreach (var recipe in Architectures.Recipes)
            {
                bool builds;
                try
                {
                    using var model = Architectures.Create(recipe.Name, input, 10, seed: 1, threads: 1);
                    builds = true;
                }
                catch (Exception e) when (e is ArchitectureSpecException or ArgumentException)
                {
                    builds = false;
                }
                Assert.True(builds == Architectures.Fits(recipe, input), $"{recipe.Name} on {side}×{side}: builds {builds}");
            }
        }
    }
}
