using Convnet.Data;
using Convnet.Tensors;

namespace Convnet.Models;

/// <summary>
/// What the tools need of a trained classifier, whether one <see cref="Sequential"/> or an
/// <see cref="Ensemble"/> of them: its input, its class scores and a description.
/// </summary>
public interface IClassifier : IDisposable
{
    /// <summary>Shape of one sample.</summary>
    Shape InputShape { get; }

    /// <summary>Number of classes scored.</summary>
    int Classes { get; }

    /// <summary>The name of each class in output order, or null when the classes are just their numbers.</summary>
    IReadOnlyList<string>? ClassNames { get; }

    /// <summary>Trainable parameters, over all models.</summary>
    int ParameterCount { get; }

    /// <summary>Class scores (probabilities when the model ends with Softmax; always for an ensemble): [data.Count, Classes].</summary>
    float[] Predict(Dataset data, int batchSize = 256);

    /// <summary>Scores for samples already scaled to floats. x: [n, H, W, C] → [n, Classes].</summary>
    float[] Predict(ReadOnlySpan<float> x);

    /// <summary>A printable description of the layers and parameter counts.</summary>
    string Summary();
}

/// <summary>What every <see cref="IClassifier"/> can do with its scores.</summary>
public static class Classifier
{
    /// <summary>The name of class <paramref name="index"/>: its class name, or its number when the model has none.</summary>
    public static string ClassName(this IClassifier model, int index)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.ClassNames is { } names && (uint)index < (uint)names.Count
            ? names[index]
            : index.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The most probable class of each sample.</summary>
    public static int[] PredictClasses(this IClassifier model, Dataset data)
    {
        ArgumentNullException.ThrowIfNull(model);
        var scores = model.Predict(data);
        int classes = model.Classes;
        var result = new int[scores.Length / classes];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = ArgMax(scores.AsSpan(i * classes, classes));
        }
        return result;
    }

    /// <summary>The index of the largest score (the first of equal ones).</summary>
    public static int ArgMax(ReadOnlySpan<float> scores)
    {
        int best = 0;
        for (int j = 1; j < scores.Length; j++)
        {
            if (scores[j] > scores[best])
            {
                best = j;
            }
        }
        return best;
    }
}
