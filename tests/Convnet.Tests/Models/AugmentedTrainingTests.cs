using Convnet.Data;
using Convnet.Optimizers;
using Convnet.Tensors;
using Xunit;

namespace Convnet.Tests.Models;

/// <summary>Fit with data augmentation: determinism and the identity case (throughput: benchmarks, TrainBatchAugmented).</summary>
public class AugmentedTrainingTests
{
    private static readonly Augmentation Digits = new(rotationDegrees: 10, zoom: 0.1, shiftFraction: 0.1, shear: 5);

    private static int[] Train(Dataset data, int threads, Augmentation? augmentation, int epochs = 1)
    {
        using var model = ReferenceModel.Create(seed: 9, threads: threads);
        model.Compile(new Adam());
        model.Fit(data, epochs: epochs, batchSize: 32, seed: 4, augmentation: augmentation);
        return model.GetWeights().Select(BitConverter.SingleToInt32Bits).ToArray();
    }

    [Fact]
    public void Identity_augmentation_trains_bit_identically_to_none()
    {
        var data = SyntheticDigits.Create(64, seed: 5);
        Assert.Equal(Train(data, 2, null), Train(data, 2, new Augmentation()));
    }

    [Fact]
    public void Augmented_training_gives_bit_identical_weights_on_one_and_two_threads()
    {
        var data = SyntheticDigits.Create(100, seed: 5);
        var one = Train(data, 1, Digits, epochs: 2);
        var two = Train(data, 2, Digits, epochs: 2);
        Assert.Equal(one, two);
        Assert.NotEqual(Train(data, 2, null, epochs: 2), two);
    }

    [Fact]
    public void Augmentation_of_a_vector_input_is_rejected()
    {
        using var model = new Convnet.Models.Sequential(Shape.Vector(4), seed: 1, threads: 1);
        model.Add(new Convnet.Layers.Dense(2));
        model.Compile(new Adam());
        var data = new Dataset(new byte[8], new byte[2], Shape.Vector(4));
        var e = Assert.Throws<ArgumentException>(() => model.Fit(data, augmentation: Digits));
        Assert.Equal("augmentation", e.ParamName);
        model.Fit(data, augmentation: Augmentation.None);
    }
}
