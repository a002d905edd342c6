using Convnet.IO;
using Convnet.Tests.Data;
using Xunit;

namespace Convnet.Tests.Cli;

/// <summary>train --augment: a good value trains and is recorded in the model file; a bad token is named.</summary>
public sealed class CliAugmentTests
{
    [Fact]
    public void A_good_augment_value_trains_and_is_recorded_in_the_metadata()
    {
        using var dir = new TempDir();
        string model = CliHarness.TrainModel(dir, "augmented.safetensors", "--augment", "rotation=10, zoom=0.1,shift=0.1");
        var (_, metadata) = SafeTensors.Read(model);
        Assert.Equal("rotation=10,zoom=0.1,shift=0.1,shear=0", metadata["augmentation"]);

        // Without --augment the recipe's augmentation applies (simple's; the default recipe has none); 'none' turns it off.
        string recipe = CliHarness.TrainModel(dir, "recipe.safetensors", "--arch", "simple");
        Assert.Equal("rotation=10,zoom=0.1,shift=0.1,shear=0", SafeTensors.Read(recipe).Metadata["augmentation"]);
        string byDefault = CliHarness.TrainModel(dir, "default.safetensors");
        Assert.Equal("none", SafeTensors.Read(byDefault).Metadata["augmentation"]);
        string plain = CliHarness.TrainModel(dir, "plain.safetensors", "--arch", "simple", "--augment", "none");
        Assert.Equal("none", SafeTensors.Read(plain).Metadata["augmentation"]);
    }

    [Fact]
    public void Flip_trains_the_same_bits_on_any_thread_count_and_is_recorded()
    {
        using var dir = new TempDir();
        string one = CliHarness.TrainModel(dir, "flip1.safetensors", "--augment", "rotation=10,flip", "--threads", "1");
        string two = CliHarness.TrainModel(dir, "flip2.safetensors", "--augment", "rotation=10,flip", "--threads", "2");
        string unflipped = CliHarness.TrainModel(dir, "plain.safetensors", "--augment", "rotation=10", "--threads", "2");

        Assert.Equal(SafeTensors.Read(one).Tensors, SafeTensors.Read(two).Tensors);
        Assert.Equal("rotation=10,zoom=0,shift=0,shear=0,flip", SafeTensors.Read(one).Metadata["augmentation"]);
        Assert.NotEqual(SafeTensors.Read(unflipped).Tensors, SafeTensors.Read(two).Tensors);
        string alone = CliHarness.TrainModel(dir, "alone.safetensors", "--augment", "flip");
        Assert.Equal("flip", SafeTensors.Read(alone).Metadata["augmentation"]);
    }

    [Theory]
    [InlineData("flip=1", "flip=1")]
    [InlineData("flip,flip", "flip")]
    [InlineData("rotation=10,spin=3", "spin=3")]
    [InlineData("zoom=1.5", "zoom=1.5")]
    [InlineData("shift", "shift")]
    public void A_bad_augment_token_is_a_user_error_that_names_it(string value, string token)
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv");
        string model = dir.File("model.safetensors");

        var result = CliHarness.Run(["train", csv, "--model", model, .. CliHarness.Tiny("--augment", value)]);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.StartsWith("error: --augment", result.Err);
        Assert.Contains($"'{token}'", result.Err.Split('\n')[0]);
        Assert.False(File.Exists(model));
    }
}
