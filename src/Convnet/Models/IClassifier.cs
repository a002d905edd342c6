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

    /// <summary>Trainable parameters, over all models.</summary>
    int ParameterCount { get; }

    /// <summary>Class scores (probabilities when the model ends with Softmax; always for an ensemble): [data.Count, Classes].</summary>
    float[] Predict(Dataset data, int batchSize = 256);

    /// <summary>Scores for samples already scaled to floats. x: [n, H, W, C] → [n, Classes].</summary>
    float[] Predict(ReadOnlySpan<float> x);

    /// <summary>The most probable class of each sample.</summary>
    int[] PredictClasses(Dataset data);

    /// <summary>A printable description of the layers and parameter counts.</summary>
    string Summary();
}
